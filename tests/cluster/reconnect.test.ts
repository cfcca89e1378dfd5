/**
 * NATS restarting under load, in the ways that lost calls before: a node slow to come back (its
 * process frozen for a few seconds, as a loaded machine can make it), and chained calls through
 * several restarts in a row. NATS core loses what is in flight and what is sent to a node that
 * has not subscribed again, so links are made anew once both ends are back (cluster/bridge.ts):
 * calls in flight then may fail (500, the replica died), but no request waits forever, and once
 * every node is back all succeed.
 */
import { expect, test } from "bun:test";
import { Cluster, clusterForFile } from "./cluster.ts";

/** A request unanswered this long was lost. */
const LOST_AFTER_MS = 10_000;
/**
 * How long the slow node stays frozen after NATS is back: longer than the others take to
 * reconnect and settle (about a second), shorter than the 5 s that make a node DEAD.
 */
const FROZEN_MS = 3_000;
/** Requests that start this long after the last node is back must all succeed. */
const SETTLED_AFTER_MS = 1_000;

let cluster: Cluster;

clusterForFile(2, (c) => (cluster = c));

interface Outcome {
  startedAt: number;
  /** 0: no answer within LOST_AFTER_MS; -1: a wrong answer. */
  status: number;
  body: string;
}

/** 24 clients on `proxies`, each request `path(i)` checked by `ok`, until stopped. */
function startLoad(proxies: string[], path: (i: number) => string, ok: (i: number, answer: any) => boolean) {
  const outcomes: Outcome[] = [];
  let stopped = false;
  let seq = 0;
  const clients = Array.from({ length: 24 }, async () => {
    while (!stopped) {
      const i = seq++;
      const startedAt = performance.now();
      const url = `${proxies[i % proxies.length]}${path(i)}`;
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(LOST_AFTER_MS) });
        const body = await res.text();
        outcomes.push({ startedAt, status: res.status === 200 && !ok(i, JSON.parse(body)) ? -1 : res.status, body });
      } catch (e) {
        outcomes.push({ startedAt, status: 0, body: `${url}: ${String(e)}` });
      }
    }
  });
  const until = async (what: string, done: () => boolean) => {
    const deadline = performance.now() + 30_000;
    while (!done()) {
      if (performance.now() > deadline) throw new Error(`no ${what} within 30 s (${outcomes.length} answers in all)`);
      await Bun.sleep(20);
    }
  };
  return {
    outcomes,
    /** Waits for `n` more answers (bounded). */
    more(n: number) {
      const target = outcomes.length + n;
      return until(`${n} more answers`, () => outcomes.length >= target);
    },
    /** Waits for `n` answers to requests started after `t` (bounded). */
    startedAfter(t: number, n: number) {
      return until(`${n} answers to requests started after the settling time`, () => outcomes.filter((o) => o.startedAt > t).length >= n);
    },
    /** Stops, once the requests under way have ended: a lost one ends with its LOST_AFTER_MS timeout (status 0). */
    async stop() {
      stopped = true;
      await Promise.all(clients);
    },
  };
}

/** None lost or wrong; the failed ones died in flight; those started SETTLED_AFTER_MS after `back` all succeeded. */
function check(what: string, outcomes: Outcome[], back: number): void {
  const failed = outcomes.filter((o) => o.status !== 200);
  console.log(`${what}: ${failed.length} of ${outcomes.length} requests failed`);
  expect(outcomes.filter((o) => o.status <= 0).map((o) => `${o.status} ${o.body}`)).toEqual([]);
  for (const o of failed) expect(`${o.status} ${o.body}`).toMatch(/^500 The replica serving request \S+ died before it answered/);
  const late = outcomes.filter((o) => o.startedAt > back + SETTLED_AFTER_MS);
  expect(late.length).toBeGreaterThanOrEqual(300);
  expect(late.filter((o) => o.status !== 200).map((o) => `${o.status} ${o.body}`)).toEqual([]);
}

const allAlive = () => cluster.until("every node ALIVE", (st) => ["head", "w1", "w2"].every((id) => st.nodes[id]?.status === "ALIVE"));

test("a NATS restart with a node that reconnects seconds after the others: no request is lost, and all succeed once it is back", async () => {
  const s = await cluster.deployRunning({ name: "where", app: "where", deployments: [{ name: "Where", numReplicas: 3, maxReplicasPerNode: 1, maxOngoingRequests: 2 }] });
  expect(Cluster.nodesOf(s, "where", "Where").sort()).toEqual(["head", "w1", "w2"]);
  const slowNode = cluster.workers[1]!;
  // Through the head's and w1's proxies; at 2 requests per replica and caller, they spill onto w2's replica.
  const load = startLoad([cluster.head.http, cluster.workers[0]!.http], () => "/where/?ms=5", (_, a) => a.path === "/");
  let back = 0;
  try {
    await load.more(300);
    expect(load.outcomes.some((o) => o.status === 200 && JSON.parse(o.body).pid === slowNode.pid)).toBe(true);
    slowNode.proc.proc.kill("SIGSTOP");
    try {
      await cluster.nats.restart();
      // The others reconnect meanwhile; the frozen node cannot (a span of time, not an event to await).
      await Bun.sleep(FROZEN_MS);
    } finally {
      slowNode.proc.proc.kill("SIGCONT");
    }
    back = performance.now();
    await allAlive();
    await load.startedAfter(back + SETTLED_AFTER_MS, 300);
  } finally {
    await load.stop();
  }
  check("NATS restart with a slow node", load.outcomes, back);
}, 120_000);

test("chained calls across three nodes through three NATS restarts in a row: no request is lost, and all succeed after", async () => {
  await cluster.deployRunning({ name: "chain", app: "chain" });
  const load = startLoad(cluster.nodes.map((n) => n.http), (i) => `/chain/?x=${i}`, (i, a) => a.value === (i + 1) * 2);
  let back = 0;
  try {
    await load.more(300);
    for (let restart = 0; restart < 3; restart++) {
      await cluster.nats.restart();
      back = performance.now();
      await load.more(200);
    }
    await allAlive();
    await load.startedAfter(back + SETTLED_AFTER_MS, 300);
  } finally {
    await load.stop();
  }
  check("three NATS restarts under chained load", load.outcomes, back);
}, 180_000);
