/**
 * Nodes that go: a worker killed (`kill -9`) under load (only the requests in flight there fail,
 * ReplicaDiedError as HTTP 500; the head declares it DEAD after 5 s of silence; its replicas are
 * replaced on the live nodes; every request after that succeeds), the same node started again,
 * and a worker that leaves on SIGTERM.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cleanup } from "../cli/helpers.ts";
import { Cluster, getJson, type Node, startCluster, type Status } from "./cluster.ts";

/** The head declares a silent node dead after 5 s (runtime/cluster/heartbeat.ts); allow for a busy machine. */
const DEAD_WITHIN_MS = 15_000;
const REPLACED_WITHIN_MS = 10_000;
/** A request still unanswered after this long was lost (the test fails on it, rather than hang). */
const REQUEST_TIMEOUT_MS = 20_000;
const DEPLOYMENTS = ["where/Where", "chain/Chain", "chain/Adder", "chain/Multiplier"];

let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster(2);
}, 60_000);

afterAll(async () => {
  await cluster?.[Symbol.asyncDispose]();
  await cleanup();
});

interface Outcome {
  startedAt: number;
  status: number;
  body: string;
  pid?: number;
}

/**
 * 24 clients on `proxies` until stopped, alternating the chain (checked: (x + 1) * 2) and a
 * 10 ms Where; every answer is kept with when its request started.
 */
function startLoad(proxies: string[]): { outcomes: Outcome[]; stop(): Promise<void>; until(what: string, ok: () => boolean): Promise<void> } {
  const outcomes: Outcome[] = [];
  let stopped = false;
  let seq = 0;
  const client = async () => {
    while (!stopped) {
      const i = seq++;
      const startedAt = performance.now();
      const url = i % 2 ? `${proxies[i % proxies.length]}/chain/?x=${i}` : `${proxies[(i >> 1) % proxies.length]}/where/?ms=10`;
      let res: Response;
      let body: string;
      try {
        res = await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
        body = await res.text();
      } catch (e) {
        // A proxy that went away, or a request lost: kept as an answer of status 0, so the test sees it.
        outcomes.push({ startedAt, status: 0, body: `${url}: ${String(e)}` });
        continue;
      }
      const o: Outcome = { startedAt, status: res.status, body };
      if (res.status === 200) {
        const a = JSON.parse(body) as { value?: number; pid: number };
        if (i % 2 && a.value !== (i + 1) * 2) o.status = -1; // a wrong answer
        o.pid = a.pid;
      }
      outcomes.push(o);
    }
  };
  const running = Promise.all(Array.from({ length: 24 }, client));
  return {
    outcomes,
    async stop() {
      stopped = true;
      await running;
    },
    async until(what, ok) {
      const deadline = performance.now() + 20_000;
      while (!ok()) {
        if (performance.now() > deadline) throw new Error(`no ${what} within 20 s (${outcomes.length} answers)`);
        await Bun.sleep(20);
      }
    },
  };
}

/** Every deployment of where and chain at its target, RUNNING, none on `gone`. */
const replacedOff = (gone: string) => (s: Status) =>
  DEPLOYMENTS.every((key) => {
    const [app, dep] = key.split("/") as [string, string];
    const d = s.applications[app]?.deployments[dep];
    return !!d && d.replicas.length === d.targetReplicas && d.replicas.every((r) => r.state === "RUNNING" && r.node !== gone);
  });

describe("nodes that go", () => {
  let victim: Node;

  test("kill -9 of a worker node under load: only its in-flight requests fail, it turns DEAD, its replicas are replaced, requests succeed again", async () => {
    // One Where on each node, at most 2 requests at once per caller, so load spills to every node.
    await cluster.deployRunning({ name: "where", app: "where", deployments: [{ name: "Where", numReplicas: 3, maxReplicasPerNode: 2, maxOngoingRequests: 2 }] });
    const before = await cluster.deployRunning({ name: "chain", app: "chain" });
    victim = cluster.workers[1]!;
    expect(Cluster.nodesOf(before, "where", "Where").sort()).toEqual(["head", "w1", "w2"]);
    expect(["Chain", "Adder", "Multiplier"].filter((d) => Cluster.nodesOf(before, "chain", d)[0] === victim.id).length).toBe(1);

    // The clients use the survivors' proxies (the victim's own proxy dies with it).
    const load = startLoad([cluster.head.http, cluster.workers[0]!.http]);
    let dead: number, replaced: number, killedAt: number;
    let after: Status;
    try {
      await load.until("answer from the victim", () => load.outcomes.some((o) => o.pid === victim.pid) && load.outcomes.length >= 200);
      expect(load.outcomes.filter((o) => o.status !== 200)).toEqual([]);

      killedAt = performance.now();
      victim.proc.proc.kill("SIGKILL");
      const deadStatus = await cluster.until(`${victim.id} DEAD`, (s) => s.nodes[victim.id]?.status === "DEAD", DEAD_WITHIN_MS);
      dead = performance.now();
      expect(deadStatus.nodes[victim.id]!.replicas).toBe(0);
      after = await cluster.until("replacements RUNNING on the live nodes", replacedOff(victim.id), REPLACED_WITHIN_MS);
      replaced = performance.now();
      const answered = load.outcomes.length;
      await load.until("500 answers after the replacements", () => load.outcomes.length >= answered + 500);
    } finally {
      await load.stop();
    }
    const { outcomes } = load;
    const failed = outcomes.filter((o) => o.status !== 200);
    console.log(`kill -9 of ${victim.id}: DEAD after ${Math.round(dead - killedAt)} ms, replaced ${Math.round(replaced - killedAt)} ms after the kill; ${failed.length} of ${outcomes.length} requests failed`);

    expect(after.applications.where!.status).toBe("RUNNING");
    expect(after.applications.chain!.status).toBe("RUNNING");
    // Only requests sent before the head declared the node dead may fail, and only as in flight
    // on a dead replica: HTTP 500 naming the replica's death. None is a wrong answer.
    for (const o of failed) {
      expect(o.startedAt).toBeLessThan(dead);
      expect(o.startedAt).toBeGreaterThan(killedAt - 5000);
      expect(`${o.status} ${o.body}`).toMatch(/^500 The replica serving request \S+ died before it answered/);
    }
    // In flight at the victim: its Where (2 per caller), and the chain's calls that crossed it.
    expect(failed.length).toBeLessThanOrEqual(24);
    // After the replacements no answer comes from the dead node, and every one is right.
    const late = outcomes.filter((o) => o.startedAt > replaced);
    expect(late.length).toBeGreaterThanOrEqual(500);
    expect(late.filter((o) => o.status !== 200)).toEqual([]);
    expect(late.filter((o) => o.pid === victim.pid)).toEqual([]);
  }, 90_000);

  test("the dead node started again with the same id is ALIVE again, takes new replicas and serves every route", async () => {
    cluster.workers.splice(cluster.workers.indexOf(victim), 1);
    const again = await cluster.addWorker(victim.id);
    const s = await cluster.deployRunning({ name: "three", app: "where", deployments: [{ name: "Where", numReplicas: 3, maxReplicasPerNode: 1 }] });
    expect(Cluster.nodesOf(s, "three", "Where").sort()).toEqual(["head", "w1", "w2"]);
    expect(s.nodes[victim.id]).toMatchObject({ status: "ALIVE", replicas: 1, httpUrl: again.http });
    // Its proxy prefers its own replica, and serves the other apps too.
    expect((await getJson<{ pid: number }>(`${again.http}/three/`)).pid).toBe(again.pid);
    expect((await getJson<{ value: number }>(`${again.http}/chain/?x=1`)).value).toBe(4);
  }, 60_000);

  // head.ts answers a leaving node's "bye" with #dead(node): every replica there is failed at
  // once with ReplicaDiedError ("node w2 left the cluster") and every node fails what it had in
  // flight there, while worker_node.ts leave() means to let them drain. About 1 in 200
  // requests under this load fails with 500 today. Enable when the head drains a leaving node.
  test.todo("SIGTERM of a worker node under load: it leaves, its replicas drain and are replaced, no request fails", async () => {
    await using own = await startCluster(2);
    await own.deployRunning({ name: "where", app: "where", deployments: [{ name: "Where", numReplicas: 3, maxReplicasPerNode: 2, maxOngoingRequests: 2 }] });
    await own.deployRunning({ name: "chain", app: "chain" });
    const leaving = own.workers[1]!;
    const load = startLoad([own.head.http, own.workers[0]!.http]);
    try {
      await load.until("answer from the leaving node", () => load.outcomes.some((o) => o.pid === leaving.pid) && load.outcomes.length >= 200);
      leaving.proc.proc.kill("SIGTERM");
      expect(await leaving.proc.exited(30_000)).toBe(0);
      await own.until("replacements RUNNING on the other nodes", replacedOff(leaving.id), REPLACED_WITHIN_MS);
      const answered = load.outcomes.length;
      await load.until("500 answers after the replacements", () => load.outcomes.length >= answered + 500);
    } finally {
      await load.stop();
    }
    expect(load.outcomes.filter((o) => o.status !== 200).map((o) => `${o.status} ${o.body}`)).toEqual([]);
  }, 90_000);
});
