/**
 * A head and two worker nodes (one process each, one nats-server): replicas spread over them
 * within maxReplicasPerNode, status shows the nodes and each replica's node, and every node's
 * proxy serves every route, under load too.
 */
import { describe, expect, test } from "bun:test";
import { type Cluster, clusterForFile, getJson } from "./cluster.ts";

let cluster: Cluster;

clusterForFile(2, (c) => (cluster = c));

type WhereAnswer = { pid: number; replica: string; path: string };

describe("cluster placement and HTTP", () => {
  test("status shows the head and both workers ALIVE, each with its proxy", async () => {
    const s = await cluster.status();
    expect(Object.keys(s.nodes).sort()).toEqual(["head", "w1", "w2"]);
    for (const n of cluster.nodes) {
      expect(s.nodes[n.id]).toMatchObject({ status: "ALIVE", httpUrl: n.http, head: n.id === "head" });
    }
  });

  test("replicas spread evenly over the three nodes, at most maxReplicasPerNode on each", async () => {
    const s = await cluster.deployRunning({ name: "where", app: "where", deployments: [{ name: "Where", numReplicas: 6, maxReplicasPerNode: 2 }] });
    const replicas = s.applications.where!.deployments.Where!.replicas;
    expect(replicas.length).toBe(6);
    const perNode = new Map<string, number>();
    for (const r of replicas) perNode.set(r.node!, (perNode.get(r.node!) ?? 0) + 1);
    expect(Object.fromEntries(perNode)).toEqual({ head: 2, w1: 2, w2: 2 });
    for (const id of ["head", "w1", "w2"]) expect(s.nodes[id]!.replicas).toBe(2);

    // Each replica runs where status says: its answer's process is that node's.
    const nodeOf = new Map(replicas.map((r) => [r.replicaId, r.node!]));
    const seen = new Set<string>();
    for (let i = 0; i < 60 && seen.size < 6; i++) {
      for (const n of cluster.nodes) {
        const a = await getJson<WhereAnswer>(`${n.http}/where/x`);
        expect(cluster.nodeOfPid(a.pid)).toBe(nodeOf.get(a.replica)!);
        seen.add(a.replica);
      }
    }
    expect(seen.size).toBeGreaterThanOrEqual(3);
  });

  test("a proxy prefers the replicas on its own node while they have room", async () => {
    for (const n of cluster.nodes) {
      const pids = new Set<number>();
      for (let i = 0; i < 20; i++) pids.add((await getJson<WhereAnswer>(`${n.http}/where/one-at-a-time`)).pid);
      expect({ node: n.id, pids: [...pids] }).toEqual({ node: n.id, pids: [n.pid] });
    }
  });

  test("a deployment no node has room for fails with an error naming maxReplicasPerNode; the others keep serving", async () => {
    const errors = await cluster.deploy({ name: "full", app: "where", deployments: [{ name: "Where", numReplicas: 4, maxReplicasPerNode: 1 }] });
    expect(errors.full).toBe(
      "no live node can take another replica of full/Where: maxReplicasPerNode is 1 and each of the 3 live nodes holds that many; start more nodes or raise maxReplicasPerNode",
    );
    const s = await cluster.status();
    expect(s.applications.full).toMatchObject({ status: "DEPLOY_FAILED", message: errors.full });
    expect(s.applications.where!.status).toBe("RUNNING");
    for (const n of cluster.nodes) expect((await fetch(`${n.http}/where/still`)).status).toBe(200);
    // What it started is stopped again: every node holds only `where`'s two replicas.
    await cluster.until("full's replicas stopped", (st) => ["head", "w1", "w2"].every((id) => st.nodes[id]!.replicas === 2));
  });

  test("every node's proxy serves every route of every application", async () => {
    await cluster.deployRunning({ name: "chain", app: "chain" });
    for (const n of cluster.nodes) {
      expect((await getJson<WhereAnswer>(`${n.http}/where/a/b?c=1`)).path).toBe("/a/b");
      expect((await getJson<{ value: number }>(`${n.http}/chain/?x=5`)).value).toBe(12);
      const missing = await fetch(`${n.http}/nowhere`);
      expect(missing.status).toBe(404);
      await missing.body?.cancel();
    }
  });

  test("a WebSocket through each node's proxy reaches the ingress on whichever node, text and a 1.5 MB frame both ways", async () => {
    const s = await cluster.deployRunning({ name: "sockets", app: "sockets" });
    const [socketsNode] = s.applications.sockets!.deployments.Sockets!.replicas.map((r) => r.node);
    const big = Uint8Array.from({ length: 1_500_000 }, (_, i) => i % 253);
    for (const n of cluster.nodes) {
      const ws = new WebSocket(`${n.http.replace("http", "ws")}/sockets/`);
      ws.binaryType = "arraybuffer";
      const got: (string | Uint8Array)[] = [];
      try {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`${n.id}: ${got.length} messages within 10 s`)), 10_000);
          ws.onmessage = (ev) => {
            got.push(typeof ev.data === "string" ? ev.data : new Uint8Array(ev.data as ArrayBuffer));
            if (got.length === 1) {
              for (let i = 0; i < 200; i++) ws.send(`m${i}`);
              ws.send(big);
            }
            if (got.length === 202) {
              clearTimeout(timer);
              resolve();
            }
          };
          ws.onclose = (ev) => reject(new Error(`${n.id}: closed ${ev.code} ${ev.reason} after ${got.length} messages`));
        });
      } finally {
        ws.onclose = null;
        ws.close();
      }
      expect(cluster.nodeOfPid(JSON.parse(got[0] as string).pid)).toBe(socketsNode!);
      expect(got.slice(1, 201)).toEqual(Array.from({ length: 200 }, (_, i) => `echo:m${i}`));
      const back = got[201] as Uint8Array;
      expect(back.byteLength).toBe(big.byteLength);
      expect(back[0]).toBe(big[big.length - 1]!);
      expect(back[back.length - 1]).toBe(big[0]!);
    }
  }, 30_000);

  test("under load: 48 clients, 2,000 requests spread over the three proxies, every answer right", async () => {
    const proxies = cluster.nodes.map((n) => n.http);
    const total = 2000;
    let next = 0;
    const wrong: string[] = [];
    const pids = new Set<number>();
    const client = async () => {
      for (let i = next++; i < total; i = next++) {
        const proxy = proxies[i % proxies.length]!;
        if (i % 2) {
          const res = await fetch(`${proxy}/chain/?x=${i}`);
          const body = await res.text();
          if (res.status !== 200 || JSON.parse(body).value !== (i + 1) * 2) wrong.push(`${i}: ${res.status} ${body}`);
        } else {
          const res = await fetch(`${proxy}/where/${i}`);
          const body = await res.text();
          if (res.status !== 200 || JSON.parse(body).path !== `/${i}`) wrong.push(`${i}: ${res.status} ${body}`);
          else pids.add(JSON.parse(body).pid);
        }
      }
    };
    await Promise.all(Array.from({ length: 48 }, client));
    expect(wrong.slice(0, 5)).toEqual([]);
    expect(wrong.length).toBe(0);
    expect(pids.size).toBe(3);
  }, 60_000);
});
