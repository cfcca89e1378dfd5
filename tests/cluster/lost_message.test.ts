/**
 * NATS core delivers at most once, and a message between nodes can be lost while neither node's
 * connection drops. Worker w1 reaches NATS through a proxy that loses chosen messages on their
 * way to it (lossy_proxy.ts). A call lost on its way to w1's replica, or an answer lost on its way
 * back to w1, ends its call with ReplicaDiedError (HTTP 500 naming the replica) within seconds
 * instead of leaving it waiting forever, and the calls after it succeed.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { cleanup } from "../cli/helpers.ts";
import { Cluster, getJson, type Node, startCluster } from "./cluster.ts";
import { type LossyProxy, startLossyProxy } from "./lossy_proxy.ts";

/** A link notices a loss within about 2 s (runtime/cluster/sequence.ts); allow for a busy machine. */
const ENDS_WITHIN_MS = 15_000;

let cluster: Cluster;
let proxy: LossyProxy;
let w1: Node;

beforeAll(async () => {
  cluster = await startCluster(0);
  proxy = await startLossyProxy(cluster.nats.port);
  w1 = await cluster.addWorker("w1", proxy.url);
  // `near` on the head, then `far` on w1 (placement goes to the node holding fewest replicas).
  const near = await cluster.deployRunning({ name: "near", app: "where", deployments: [{ name: "Where", numReplicas: 1 }] });
  expect(Cluster.nodesOf(near, "near", "Where")).toEqual(["head"]);
  const far = await cluster.deployRunning({ name: "far", app: "where", deployments: [{ name: "Where", numReplicas: 1 }] });
  expect(Cluster.nodesOf(far, "far", "Where")).toEqual(["w1"]);
}, 60_000);

afterAll(async () => {
  await cluster?.[Symbol.asyncDispose]();
  await proxy?.[Symbol.asyncDispose]();
  await cleanup();
});

async function get(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(ENDS_WITHIN_MS) });
  return `${res.status} ${await res.text()}`;
}

test("a call lost on its way to another node's replica fails with ReplicaDiedError within seconds; the next one succeeds", async () => {
  // The first call from the head's proxy to `far`: the first message on w1's replica subject.
  proxy.drop(/^tsserve\.r\./);
  expect(await get(`${cluster.head.http}/far/`)).toMatch(/^500 The replica serving request \S+ died before it answered: replica far#Where#\S+ was reconnected$/);
  expect(proxy.dropped).toHaveLength(1);
  expect((await getJson<{ pid: number }>(`${cluster.head.http}/far/`)).pid).toBe(w1.pid);
}, 30_000);

test("an answer lost on its way back to the caller's node fails the call the same way; the next one succeeds", async () => {
  // The first call from w1's proxy to `near` (on the head): the first message on w1's answer subject.
  proxy.drop(/^tsserve\.c\.w1$/);
  expect(await get(`${w1.http}/near/`)).toMatch(/^500 The replica serving request \S+ died before it answered: replica near#Where#\S+ was reconnected$/);
  expect(proxy.dropped).toHaveLength(2);
  expect((await getJson<{ pid: number }>(`${w1.http}/near/`)).pid).toBe(cluster.head.pid);
}, 30_000);

test("under load, with one message in 20 to w1 lost: every request ends (none waits forever), and all succeed once nothing is lost", async () => {
  const outcomes: { status: number; body: string }[] = [];
  let lossy = true;
  let stopped = false;
  let seq = 0;
  const paths = [`${cluster.head.http}/far/`, `${w1.http}/near/`, `${w1.http}/far/`, `${cluster.head.http}/near/`];
  const clients = Array.from({ length: 24 }, async () => {
    while (!stopped) {
      const url = paths[seq++ % paths.length]!;
      const during = lossy;
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(ENDS_WITHIN_MS) });
        outcomes.push({ status: during ? res.status : -res.status, body: await res.text() });
      } catch (e) {
        outcomes.push({ status: 0, body: `${url}: ${String(e)}` });
      }
    }
  });
  const answered = async (n: number) => {
    const target = outcomes.length + n;
    const deadline = performance.now() + 30_000;
    while (outcomes.length < target) {
      if (performance.now() > deadline) throw new Error(`fewer than ${n} answers within 30 s (${outcomes.length} in all)`);
      await Bun.sleep(20);
    }
  };
  const droppedBefore = proxy.dropped.length;
  try {
    proxy.drop(/^tsserve\.(r\.|c\.w1$)/, { every: 20 });
    await answered(1000);
    proxy.drop(/^$/);
    lossy = false;
    // What was lost last is noticed within seconds: requests go on meanwhile, then 500 more all succeed.
    await answered(500);
  } finally {
    stopped = true;
    await Promise.all(clients);
  }
  const failed = outcomes.filter((o) => o.status !== 200 && o.status !== -200);
  console.log(`one message in 20 lost: ${proxy.dropped.length - droppedBefore} messages dropped, ${failed.length} of ${outcomes.length} requests failed`);
  expect(proxy.dropped.length - droppedBefore).toBeGreaterThanOrEqual(5);
  expect(outcomes.filter((o) => o.status === 0).map((o) => o.body)).toEqual([]);
  for (const o of failed) expect(`${Math.abs(o.status)} ${o.body}`).toMatch(/^500 The replica serving request \S+ died before it answered: replica (far|near)#Where#\S+ was reconnected$/);
  // Requests started once nothing was lost any more, after the last losses were noticed (the last 400).
  const late = outcomes.filter((o) => o.status < 0).slice(-400);
  expect(late.length).toBe(400);
  expect(late.filter((o) => o.status !== -200).map((o) => `${-o.status} ${o.body}`)).toEqual([]);
}, 120_000);
