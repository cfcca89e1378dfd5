/**
 * The NATS server restarts under load (a blip shorter than the 5 s that make a node DEAD): the
 * nodes reconnect, stay ALIVE, and no request is lost. NATS core delivers at most once, so a
 * call whose messages were in flight during the blip may fail (500, ReplicaDiedError), but none
 * may wait forever, and the requests after it succeed.
 */
import { afterAll, expect, test } from "bun:test";
import { cleanup } from "../cli/helpers.ts";
import { startCluster } from "./cluster.ts";

afterAll(cleanup);

/** A request unanswered this long was lost. */
const LOST_AFTER_MS = 10_000;
/** Requests that start this long after NATS is back must all succeed (the nodes reconnect within about 0.5 s). */
const SETTLED_AFTER_MS = 3_000;

test("a NATS restart under load: nodes stay ALIVE, no request is lost, and requests after it succeed", async () => {
  await using cluster = await startCluster(2);
  await cluster.deployRunning({ name: "where", app: "where", deployments: [{ name: "Where", numReplicas: 3, maxReplicasPerNode: 1, maxOngoingRequests: 2 }] });
  await cluster.deployRunning({ name: "chain", app: "chain" });
  const proxies = cluster.nodes.map((n) => n.http);
  const outcomes: { startedAt: number; status: number; body: string }[] = [];
  let stopped = false;
  let seq = 0;
  const client = async () => {
    while (!stopped) {
      const i = seq++;
      const startedAt = performance.now();
      const url = i % 2 ? `${proxies[i % 3]}/chain/?x=${i}` : `${proxies[(i >> 1) % 3]}/where/?ms=5`;
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(LOST_AFTER_MS) });
        const body = await res.text();
        const wrong = res.status === 200 && i % 2 === 1 && JSON.parse(body).value !== (i + 1) * 2;
        outcomes.push({ startedAt, status: wrong ? -1 : res.status, body });
      } catch (e) {
        outcomes.push({ startedAt, status: 0, body: `${url}: ${String(e)}` });
      }
    }
  };
  const load = Promise.all(Array.from({ length: 16 }, client));
  const answers = async (n: number) => {
    const deadline = performance.now() + 30_000;
    while (outcomes.length < n) {
      if (performance.now() > deadline) throw new Error(`only ${outcomes.length} of ${n} answers within 30 s`);
      await Bun.sleep(20);
    }
  };
  let back: number;
  try {
    await answers(300);
    await cluster.nats.restart();
    back = performance.now();
    const at = outcomes.length;
    await answers(at + 100);
    // Let requests that started after the settling time answer too.
    while (performance.now() < back + SETTLED_AFTER_MS) await Bun.sleep(50);
    await answers(outcomes.length + 300);
  } finally {
    stopped = true;
    await load;
  }
  const failed = outcomes.filter((o) => o.status !== 200);
  console.log(`NATS restart under load: ${failed.length} of ${outcomes.length} requests failed (500), none lost`);
  const s = await cluster.status();
  for (const id of ["head", "w1", "w2"]) expect(s.nodes[id]!.status).toBe("ALIVE");
  const lost = outcomes.filter((o) => o.status === 0);
  expect(lost.map((o) => o.body)).toEqual([]);
  for (const o of failed) expect(`${o.status} ${o.body}`).toMatch(/^500 The replica serving request \S+ died before it answered/);
  const settled = outcomes.filter((o) => o.startedAt > back + SETTLED_AFTER_MS);
  expect(settled.length).toBeGreaterThanOrEqual(300);
  expect(settled.filter((o) => o.status !== 200).map((o) => `${o.status} ${o.body}`)).toEqual([]);
}, 90_000);
