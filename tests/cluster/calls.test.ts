/**
 * Calls between replicas on different nodes: the seeds' chain with each deployment on its own
 * node (and under load), a stream of 10,000 items with flow control, and multiplexed routing
 * that follows a model to whichever node holds it.
 */
import { describe, expect, test } from "bun:test";
import { Cluster, clusterForFile, getJson } from "./cluster.ts";
import { checksum, pattern } from "./fixtures/apps.ts";

/** The stream window (runtime/wire/window.ts): a producer never runs further ahead of what its consumer read. */
const STREAM_WINDOW = 1000;

let cluster: Cluster;

clusterForFile(2, (c) => (cluster = c));

describe("calls across nodes", () => {
  test("a chain whose ingress, Adder and Multiplier sit on three different nodes answers right", async () => {
    const s = await cluster.deployRunning({ name: "chain", app: "chain" });
    const nodes = ["Chain", "Adder", "Multiplier"].map((d) => Cluster.nodesOf(s, "chain", d));
    for (const n of nodes) expect(n.length).toBe(1);
    // Spread: three single replicas of one app on three empty nodes go one to a node.
    expect(new Set(nodes.flat()).size).toBe(3);
    for (const n of cluster.nodes) {
      const a = await getJson<{ value: number; pid: number }>(`${n.http}/chain/?x=5`);
      expect(a.value).toBe(12);
      expect(cluster.nodeOfPid(a.pid)).toBe(nodes[0]![0]!);
    }
  });

  test("chained without await under load: 32 clients, 1,000 requests over every proxy, all answers right", async () => {
    const proxies = cluster.nodes.map((n) => n.http);
    const total = 1000;
    let next = 0;
    const wrong: string[] = [];
    const client = async () => {
      for (let i = next++; i < total; i = next++) {
        const res = await fetch(`${proxies[i % proxies.length]}/chain/?x=${i}`);
        const body = await res.text();
        if (res.status !== 200 || JSON.parse(body).value !== (i + 1) * 2) wrong.push(`${i}: ${res.status} ${body}`);
      }
    };
    await Promise.all(Array.from({ length: 32 }, client));
    expect(wrong.slice(0, 5)).toEqual([]);
    expect(wrong.length).toBe(0);
  }, 60_000);

  test("a stream of 10,000 items to another node arrives in order, and a slow consumer holds the producer within the window", async () => {
    await cluster.deployRunning({ name: "stream", app: "stream" });
    const s = await cluster.status();
    const [consumerNode] = Cluster.nodesOf(s, "stream", "Consumer");
    const [producerNode] = Cluster.nodesOf(s, "stream", "Producer");
    expect(consumerNode).not.toBe(producerNode);
    // Every 500 items the consumer pauses 20 ms and asks how far the producer ran: unheld, it
    // would have yielded all 10,000 by the first pause.
    const a = await getJson<{ consumed: number; inOrder: boolean; maxAhead: number; pid: number; producerPid: number }>(
      `${cluster.head.http}/stream/?n=10000&every=500&pause=20`,
    );
    expect(a.consumed).toBe(10_000);
    expect(a.inOrder).toBe(true);
    expect(cluster.nodeOfPid(a.pid)).toBe(consumerNode!);
    expect(cluster.nodeOfPid(a.producerPid)).toBe(producerNode!);
    expect(a.maxAhead).toBeGreaterThan(0);
    expect(a.maxAhead).toBeLessThanOrEqual(STREAM_WINDOW);
  }, 30_000);

  test("requests for one model stick to the replica that holds it, on whichever node, from every node's proxy", async () => {
    await cluster.deployRunning({
      name: "mux",
      app: "multiplexed",
      deployments: [
        { name: "Front", numReplicas: 3, maxReplicasPerNode: 1 },
        { name: "Models", numReplicas: 3, maxReplicasPerNode: 1 },
      ],
    });
    type Which = { front: number; model: string; pid: number; replica: string };
    const ask = (http: string, model: string) => getJson<Which>(`${http}/mux/`, { headers: { serve_multiplexed_model_id: model } });
    const holders = new Map<string, string>();
    for (const model of ["m1", "m2", "m3"]) {
      const first = await ask(cluster.head.http, model);
      expect(first.model).toBe(model);
      holders.set(model, first.replica);
      await cluster.until(`${model} on ${first.replica}`, (st) =>
        st.applications.mux!.deployments.Models!.replicas.some((r) => r.replicaId === first.replica && r.multiplexedModelIds.includes(model)),
      );
    }
    const fronts = new Set<number>();
    let crossNode = 0;
    for (let round = 0; round < 5; round++) {
      for (const n of cluster.nodes) {
        for (const model of ["m1", "m2", "m3"]) {
          const a = await ask(n.http, model);
          expect(`${model} -> ${a.replica}`).toBe(`${model} -> ${holders.get(model)}`);
          fronts.add(a.front);
          if (a.front !== a.pid) crossNode++;
        }
      }
    }
    // A Front on each node asked, and most answers came from a model replica on another node.
    expect(fronts.size).toBe(3);
    expect(crossNode).toBeGreaterThanOrEqual(30);
  }, 30_000);

  test("multiplexed under load: 32 clients, 1,000 requests for the three held models over every proxy, each model on its one replica", async () => {
    // The models are held since the test above (Models takes 100 at once: nothing spills).
    const holders = new Map<string, string>();
    for (const r of (await cluster.status()).applications.mux!.deployments.Models!.replicas) for (const m of r.multiplexedModelIds) holders.set(m, r.replicaId);
    expect([...holders.keys()].sort()).toEqual(["m1", "m2", "m3"]);
    const total = 1000;
    let next = 0;
    const wrong: string[] = [];
    const client = async () => {
      for (let i = next++; i < total; i = next++) {
        const model = `m${(i % 3) + 1}`;
        const res = await fetch(`${cluster.nodes[(i >> 2) % 3]!.http}/mux/`, { headers: { serve_multiplexed_model_id: model } });
        const body = await res.text();
        if (res.status !== 200) wrong.push(`${i}: ${res.status} ${body}`);
        else if (JSON.parse(body).replica !== holders.get(model)) wrong.push(`${i}: ${model} on ${JSON.parse(body).replica}, held by ${holders.get(model)}`);
      }
    };
    await Promise.all(Array.from({ length: 32 }, client));
    expect(wrong.slice(0, 5)).toEqual([]);
    expect(wrong.length).toBe(0);
  }, 30_000);

  test("request and response bodies bigger than one NATS message (1 MB) cross nodes whole", async () => {
    const s = await cluster.deployRunning({ name: "echo", app: "echo" });
    const [echoNode] = Cluster.nodesOf(s, "echo", "Echo");
    // Echo has one replica: two of the three proxies reach it on another node.
    for (const n of cluster.nodes) {
      for (const size of [1000, 1_500_000]) {
        const body = pattern(size);
        const a = await getJson<{ bytes: number; sum: number; pid: number }>(`${n.http}/echo/`, { method: "POST", body });
        expect({ node: n.id, bytes: a.bytes, sum: a.sum }).toEqual({ node: n.id, bytes: size, sum: checksum(body) });
        expect(cluster.nodeOfPid(a.pid)).toBe(echoNode!);
        const res = await fetch(`${n.http}/echo/big?n=${size}`);
        expect(res.status).toBe(200);
        const got = new Uint8Array(await res.arrayBuffer());
        expect({ node: n.id, bytes: got.byteLength, sum: checksum(got) }).toEqual({ node: n.id, bytes: size, sum: checksum(pattern(size)) });
      }
    }
  }, 30_000);

  test("an error thrown on another node reaches the caller with its name and message", async () => {
    await cluster.deployRunning({ name: "errors", app: "errors", deployments: [{ name: "Catcher", numReplicas: 3, maxReplicasPerNode: 1 }] });
    let crossNode = 0;
    for (const n of cluster.nodes) {
      // Each proxy prefers the Catcher on its node; Thrower has one replica, so two calls cross.
      const a = await getJson<{ caught: { name: string; message: string }; pid: number }>(`${n.http}/errors/`);
      expect(a.caught.name).toBe("RangeError");
      expect(a.caught.message).toMatch(/^the call failed at \d+$/);
      if (!a.caught.message.endsWith(` ${a.pid}`)) crossNode++;
    }
    expect(crossNode).toBe(2);
  });

  test("an HTTP stream from an ingress on another node arrives whole; a client that goes away cancels it there", async () => {
    const s = await cluster.deployRunning({ name: "ticker", app: "ticker" });
    const [tickerNode] = Cluster.nodesOf(s, "ticker", "Ticker");
    const far = cluster.nodes.find((n) => n.id !== tickerNode)!;
    const text = await (await fetch(`${far.http}/ticker/tick?n=10000`)).text();
    expect(text.split(";").length - 1).toBe(10_000);
    expect(text.startsWith("0;1;2;")).toBe(true);
    expect(text.endsWith("9998;9999;")).toBe(true);

    const client = new AbortController();
    const res = await fetch(`${far.http}/ticker/tick`, { signal: client.signal });
    const reader = res.body!.getReader();
    for (let got = 0; got < 20; ) got += new TextDecoder().decode((await reader.read()).value).split(";").length - 1;
    client.abort();
    const deadline = performance.now() + 10_000;
    let events: string[] = [];
    while (!events.some((e) => e.includes("after some"))) {
      if (performance.now() > deadline) throw new Error(`the endless stream's finally did not run within 10 s: ${JSON.stringify(events)}`);
      events = await getJson<string[]>(`${far.http}/ticker/events`);
    }
    expect(events).toContain(`finally at ${cluster.nodes.find((n) => n.id === tickerNode)!.pid} after some, aborted: true`);
  }, 30_000);

  test("HTTP streams under load: 24 clients read 48 streams of 2,000 chunks from an ingress on another node, all whole", async () => {
    const s = await cluster.status();
    const tickerNode = Cluster.nodesOf(s, "ticker", "Ticker")[0];
    const far = cluster.nodes.filter((n) => n.id !== tickerNode).map((n) => n.http);
    const expected = Array.from({ length: 2000 }, (_, i) => `${i};`).join("");
    let next = 0;
    const wrong: string[] = [];
    const client = async () => {
      for (let i = next++; i < 48; i = next++) {
        const res = await fetch(`${far[i % far.length]}/ticker/tick?n=2000`);
        const text = await res.text();
        if (res.status !== 200 || text !== expected) wrong.push(`${i}: ${res.status}, ${text.length} chars, ends ${text.slice(-20)}`);
      }
    };
    await Promise.all(Array.from({ length: 24 }, client));
    expect(wrong).toEqual([]);
  }, 30_000);

  test("concurrent calls from every node to a batching replica are batched together", async () => {
    await cluster.deployRunning({ name: "batched", app: "batched", deployments: [{ name: "BatchFront", numReplicas: 3, maxReplicasPerNode: 1 }] });
    type Answer = { value: number; batch: number; pid: number; front: number };
    const answers = await Promise.all(Array.from({ length: 48 }, (_, i) => getJson<Answer>(`${cluster.nodes[i % 3]!.http}/batched/?x=${i}`)));
    expect(answers.map((a) => a.value)).toEqual(answers.map((_, i) => i * 2));
    expect(new Set(answers.map((a) => a.front)).size).toBe(3);
    const batchedPid = answers[0]!.pid;
    expect(answers.every((a) => a.pid === batchedPid)).toBe(true);
    // Calls from Fronts on other nodes than Batched's share batches (of up to 8) with the rest.
    const remote = answers.filter((a) => a.front !== batchedPid);
    expect(remote.length).toBe(32);
    expect(remote.filter((a) => a.batch > 1).length).toBeGreaterThan(16);
  });

  test("a full replica on another node sheds the excess with 503 BackPressureError", async () => {
    const s = await cluster.deployRunning({ name: "slow", app: "where", deployments: [{ name: "Where", maxOngoingRequests: 1, maxQueuedRequests: 1 }] });
    const far = cluster.nodes.find((n) => n.id !== Cluster.nodesOf(s, "slow", "Where")[0])!;
    const answers = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const res = await fetch(`${far.http}/slow/?ms=300`);
        return `${res.status} ${res.status === 200 ? "" : await res.text()}`;
      }),
    );
    // One running and one queued at this node's proxy; the other four are shed at once.
    expect(answers.filter((a) => a.startsWith("200")).length).toBe(2);
    const shed = answers.filter((a) => !a.startsWith("200"));
    expect(shed.length).toBe(4);
    for (const a of shed) expect(a).toBe("503 Request dropped due to backpressure (num_queued_requests=1, max_queued_requests=1).");
  });
});
