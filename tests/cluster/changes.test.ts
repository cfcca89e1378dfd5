/**
 * Changes under load, on one cluster: a deployment scaled up and down across nodes (replicas
 * stopped on other nodes drain: no request fails), then the NATS server restarting (a blip
 * shorter than the 5 s that make a node DEAD): the nodes reconnect and stay ALIVE, and no request
 * is lost. NATS core delivers at most once, so a call whose messages were in flight during the
 * blip may fail (500, ReplicaDiedError), but none may wait forever, and those after it succeed.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cleanup } from "../cli/helpers.ts";
import { type Cluster, startCluster } from "./cluster.ts";

/** A request unanswered this long was lost. */
const LOST_AFTER_MS = 10_000;
/** Requests that start this long after NATS is back must all succeed (the nodes reconnect within about 0.5 s). */
const SETTLED_AFTER_MS = 3_000;

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
}

/** 16 clients over every node's proxy until stopped; `paths(i)` is the i-th request's path and its check. */
function startLoad(paths: (i: number) => { path: string; ok(body: string): boolean }) {
  const proxies = cluster.nodes.map((n) => n.http);
  const outcomes: Outcome[] = [];
  let stopped = false;
  let seq = 0;
  const client = async () => {
    while (!stopped) {
      const i = seq++;
      const startedAt = performance.now();
      const { path, ok } = paths(i);
      const url = `${proxies[i % proxies.length]}${path}`;
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(LOST_AFTER_MS) });
        const body = await res.text();
        outcomes.push({ startedAt, status: res.status === 200 && !ok(body) ? -1 : res.status, body });
      } catch (e) {
        outcomes.push({ startedAt, status: 0, body: `${url}: ${String(e)}` });
      }
    }
  };
  const running = Promise.all(Array.from({ length: 16 }, client));
  return {
    outcomes,
    async stop() {
      stopped = true;
      await running;
    },
    async answers(n: number) {
      const deadline = performance.now() + 30_000;
      while (outcomes.length < n) {
        if (performance.now() > deadline) throw new Error(`only ${outcomes.length} of ${n} answers within 30 s`);
        await Bun.sleep(20);
      }
    },
  };
}

const where = (numReplicas: number) => ({ name: "where", app: "where", deployments: [{ name: "Where", numReplicas, maxReplicasPerNode: 2, maxOngoingRequests: 2 }] });
const wherePath = () => ({ path: "/where/?ms=5", ok: (body: string) => JSON.parse(body).path === "/" });
const chainPath = (i: number) => ({ path: `/chain/?x=${i}`, ok: (body: string) => JSON.parse(body).value === (i + 1) * 2 });

describe("changes under load", () => {
  test("scaled up and down under load across nodes (1, 3, 6, 2 replicas): every request answered right", async () => {
    await cluster.deployRunning(where(3));
    const load = startLoad(wherePath);
    try {
      for (const n of [1, 3, 6, 2]) {
        await cluster.deployRunning(where(n));
        await cluster.until(`${n} Where replicas RUNNING`, (s) => {
          const replicas = s.applications.where!.deployments.Where!.replicas;
          return replicas.length === n && replicas.every((r) => r.state === "RUNNING");
        });
        const at = load.outcomes.length;
        await load.answers(at + 100);
      }
    } finally {
      await load.stop();
    }
    expect(load.outcomes.length).toBeGreaterThanOrEqual(400);
    expect(load.outcomes.filter((o) => o.status !== 200).map((o) => `${o.status} ${o.body}`)).toEqual([]);
  }, 60_000);

  test("a NATS restart under load: nodes stay ALIVE, no request is lost, and requests after it succeed", async () => {
    await cluster.deployRunning(where(3));
    await cluster.deployRunning({ name: "chain", app: "chain" });
    const load = startLoad((i) => (i % 2 ? chainPath(i) : wherePath()));
    let back: number;
    try {
      await load.answers(300);
      await cluster.nats.restart();
      back = performance.now();
      await load.answers(load.outcomes.length + 100);
      // Then requests that started after the settling time answer too.
      while (performance.now() < back + SETTLED_AFTER_MS) await Bun.sleep(50);
      await load.answers(load.outcomes.length + 300);
    } finally {
      await load.stop();
    }
    const { outcomes } = load;
    const failed = outcomes.filter((o) => o.status !== 200);
    console.log(`NATS restart under load: ${failed.length} of ${outcomes.length} requests failed (500), none lost`);
    const s = await cluster.status();
    for (const id of ["head", "w1", "w2"]) expect(s.nodes[id]!.status).toBe("ALIVE");
    expect(outcomes.filter((o) => o.status === 0).map((o) => o.body)).toEqual([]);
    for (const o of failed) expect(`${o.status} ${o.body}`).toMatch(/^500 The replica serving request \S+ died before it answered/);
    const settled = outcomes.filter((o) => o.startedAt > back + SETTLED_AFTER_MS);
    expect(settled.length).toBeGreaterThanOrEqual(300);
    expect(settled.filter((o) => o.status !== 200).map((o) => `${o.status} ${o.body}`)).toEqual([]);
  }, 90_000);
});
