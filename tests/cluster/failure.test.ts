/**
 * Nodes and NATS changing under load. A worker killed (`kill -9`): only the requests in flight
 * there fail (ReplicaDiedError, HTTP 500), the head declares it DEAD after 5 s of silence, its
 * replicas are replaced on the live nodes, every request after that succeeds; the same node
 * started again rejoins. A deployment scaled up and down across nodes: replicas stopped on other
 * nodes drain, no request fails. The NATS server restarting (a blip shorter than the 5 s that
 * make a node DEAD): the nodes reconnect and stay ALIVE, and no request is lost. NATS core
 * delivers at most once, so a call whose messages were in flight during the blip may fail (500,
 * ReplicaDiedError), but none may wait forever, and those after it succeed. And a worker that
 * leaves on SIGTERM: its replicas drain and move, no request fails.
 */
import { describe, expect, test } from "bun:test";
import { Cluster, clusterForFile, getJson, type Node, startCluster, type Status } from "./cluster.ts";

/** The head declares a silent node dead after 5 s (runtime/cluster/heartbeat.ts); allow for a busy machine. */
const DEAD_WITHIN_MS = 15_000;
const REPLACED_WITHIN_MS = 10_000;
/** A request unanswered this long was lost. */
const LOST_AFTER_MS = 10_000;
/** Requests that start this long after NATS is back must all succeed (the nodes reconnect within about 0.5 s). */
const SETTLED_AFTER_MS = 3_000;

const DEPLOYMENTS = ["where/Where", "chain/Chain", "chain/Adder", "chain/Multiplier"];

let cluster: Cluster;

clusterForFile(2, (c) => (cluster = c));

interface Outcome {
  startedAt: number;
  /** 0: no answer (a proxy gone, or the request lost); -1: a wrong answer. */
  status: number;
  body: string;
  /** The process that answered (a node). */
  pid?: number;
}

const where = (numReplicas: number) => ({ name: "where", app: "where", deployments: [{ name: "Where", numReplicas, maxReplicasPerNode: 2, maxOngoingRequests: 2 }] });
/** Odd requests go through the chain (checked: (x + 1) * 2), even ones to a 5 ms Where. */
const mixed = (i: number) =>
  i % 2 ? { path: `/chain/?x=${i}`, ok: (a: { value?: number }) => a.value === (i + 1) * 2 } : { path: "/where/?ms=5", ok: (a: { path?: string }) => a.path === "/" };
const whereOnly = () => ({ path: "/where/?ms=5", ok: (a: { path?: string }) => a.path === "/" });

/**
 * 24 clients on `proxies` until stopped; `request(i)` is the i-th request's path and its check.
 * Every answer is kept with when its request started, and a request unanswered for
 * LOST_AFTER_MS is kept as lost (status 0), so a test fails on it rather than hang.
 */
function startLoad(proxies: string[], request: (i: number) => { path: string; ok(answer: any): boolean } = mixed) {
  const outcomes: Outcome[] = [];
  let stopped = false;
  let seq = 0;
  const client = async () => {
    while (!stopped) {
      const i = seq++;
      const startedAt = performance.now();
      const { path, ok } = request(i);
      const url = `${proxies[(i >> 1) % proxies.length]}${path}`;
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(LOST_AFTER_MS) });
        const body = await res.text();
        const o: Outcome = { startedAt, status: res.status, body };
        if (res.status === 200) {
          const answer = JSON.parse(body);
          if (!ok(answer)) o.status = -1;
          o.pid = answer.pid;
        }
        outcomes.push(o);
      } catch (e) {
        outcomes.push({ startedAt, status: 0, body: `${url}: ${String(e)}` });
      }
    }
  };
  const running = Promise.all(Array.from({ length: 24 }, client));
  const until = async (what: string, done: () => boolean) => {
    const deadline = performance.now() + 30_000;
    while (!done()) {
      if (performance.now() > deadline) throw new Error(`no ${what} within 30 s (${outcomes.length} answers)`);
      await Bun.sleep(20);
    }
  };
  return {
    outcomes,
    until,
    /** Waits for `n` more answers. */
    more: (n: number) => {
      const target = outcomes.length + n;
      return until(`${n} more answers`, () => outcomes.length >= target);
    },
    async stop() {
      stopped = true;
      await running;
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

describe("nodes that go, NATS that blips", () => {
  test("scaled up and down under load across nodes (1, 4, 2 replicas): every request answered right", async () => {
    await cluster.deployRunning(where(3));
    const load = startLoad(cluster.nodes.map((n) => n.http), whereOnly);
    try {
      for (const n of [1, 4, 2]) {
        await cluster.deployRunning(where(n));
        await cluster.until(`${n} Where replicas RUNNING`, (s) => {
          const replicas = s.applications.where!.deployments.Where!.replicas;
          return replicas.length === n && replicas.every((r) => r.state === "RUNNING");
        });
        await load.more(100);
      }
    } finally {
      await load.stop();
    }
    expect(load.outcomes.length).toBeGreaterThanOrEqual(300);
    expect(load.outcomes.filter((o) => o.status !== 200).map((o) => `${o.status} ${o.body}`)).toEqual([]);
  }, 60_000);

  test("a NATS restart under load: nodes stay ALIVE, no request is lost, and requests after it succeed", async () => {
    await cluster.deployRunning(where(3));
    await cluster.deployRunning({ name: "chain", app: "chain" });
    const load = startLoad(cluster.nodes.map((n) => n.http));
    let back: number;
    try {
      await load.more(300);
      await cluster.nats.restart();
      back = performance.now();
      await load.more(100);
      // Then requests that started after the settling time answer too.
      while (performance.now() < back + SETTLED_AFTER_MS) await Bun.sleep(50);
      await load.more(300);
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

  let victim: Node;
  /** The node of `old`'s one replica, which runs from before the kill to the end. */
  let oldNode: string;

  test("kill -9 of a worker node under load: only its in-flight requests fail, it turns DEAD, its replicas are replaced, requests succeed again", async () => {
    // One Where on each node, at most 2 requests at once per caller, so load spills to every node.
    await cluster.deployRunning(where(3));
    const before = await cluster.deployRunning({ name: "chain", app: "chain" });
    // `old` has one replica, on a node that stays: the victim's next life must reach it (below).
    oldNode = Cluster.nodesOf(await cluster.deployRunning({ name: "old", app: "where" }), "old", "Where")[0]!;
    victim = cluster.workers.find((w) => w.id !== oldNode)!;
    const survivor = cluster.workers.find((w) => w !== victim)!;
    expect(Cluster.nodesOf(before, "where", "Where").sort()).toEqual(["head", "w1", "w2"]);
    expect(["Chain", "Adder", "Multiplier"].filter((d) => Cluster.nodesOf(before, "chain", d)[0] === victim.id).length).toBe(1);

    // The clients use the survivors' proxies (the victim's own proxy dies with it).
    const load = startLoad([cluster.head.http, survivor.http]);
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
      await load.more(500);
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
    // `old`'s replica ran before the kill and heard then that main@<victim> went away; the new
    // main@<victim> is the same thread name in a new life, and is answered.
    const old = await getJson<{ pid: number }>(`${again.http}/old/`);
    expect(cluster.nodeOfPid(old.pid)).toBe(oldNode);
  }, 60_000);

  test("SIGTERM of a worker node under load: it leaves, its replicas drain and are replaced, no request fails", async () => {
    await using own = await startCluster(2);
    await own.deployRunning(where(3));
    await own.deployRunning({ name: "chain", app: "chain" });
    const leaving = own.workers[1]!;
    const load = startLoad([own.head.http, own.workers[0]!.http]);
    try {
      await load.until("answer from the leaving node", () => load.outcomes.some((o) => o.pid === leaving.pid) && load.outcomes.length >= 200);
      leaving.proc.proc.kill("SIGTERM");
      expect(await leaving.proc.exited(30_000)).toBe(0);
      await own.until("replacements RUNNING on the other nodes", replacedOff(leaving.id), REPLACED_WITHIN_MS);
      await load.more(500);
    } finally {
      await load.stop();
    }
    expect(load.outcomes.filter((o) => o.status !== 200).map((o) => `${o.status} ${o.body}`)).toEqual([]);
  }, 90_000);
});
