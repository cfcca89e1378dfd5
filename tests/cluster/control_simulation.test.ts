// The cluster's control protocol (head <-> worker nodes) under every message order: the real
// ClusterHead, Controller, WorkerNode and NodeAgent over a seeded in-memory NATS with a virtual
// clock (tests/cluster/control_sim.ts), through joins, deploys, replicas crashing, nodes killed,
// leaving, cut off from NATS and started again under their old id, the head restarted or cut
// off, and the NATS server restarted (everyone cut off at once, each back at its own time). A failure prints its seed; replay it with
// SIM_SEED=<seed> npx bun test tests/cluster/control_simulation.test.ts (SIM_TRACE=1 prints each
// step; SIM_SCHEDULES=<n> runs more schedules, SIM_BASE=<n> others).
import { expect, test } from "bun:test";
import type { PreparedApp } from "../../runtime/admin/apply.ts";
import { DEAD_AFTER_MS } from "../../runtime/cluster/heartbeat.ts";
import { Sim } from "./control_sim.ts";
import { SimHead, SimNode } from "./control_sim_nodes.ts";

const APP = "a";

type Fault = "crash" | "kill" | "killAndRejoin" | "leave" | "leaveAndRejoin" | "headRestart" | "cut" | "cutHead" | "natsRestart";
const FAULTS: Fault[] = ["crash", "kill", "killAndRejoin", "leave", "leaveAndRejoin", "headRestart", "cut", "cutHead", "natsRestart"];

/**
 * After the last fault, this long without one: enough for a node to be missed (5 s), a stop
 * nobody answers (25 s), and a replacement's start retried with backoff.
 */
const QUIET_MS = 40_000;

interface Outcome {
  summary: string;
}

async function schedule(seed: number, faultsWanted?: Fault[]): Promise<Outcome> {
  const sim = new Sim(seed);
  sim.install();
  try {
    return await run(sim, faultsWanted);
  } catch (e) {
    const err = e as Error;
    err.message = `seed ${seed}: ${err.message}\n--- the last steps ---\n${sim.traceLines.slice(-60).join("\n")}`;
    throw err;
  } finally {
    sim.uninstall();
  }
}

async function run(sim: Sim, faultsWanted?: Fault[]): Promise<Outcome> {
  const where = () => `at ${(sim.now / 1000).toFixed(3)} s, step ${sim.steps}`;
  let head = new SimHead(sim, "head", 1);
  head.restore();
  const nodeIds = sim.random() < 0.5 ? ["w1", "w2"] : ["w1", "w2", "w3"];
  const nodes = new Map<string, SimNode>();
  const incarnations = new Map<string, number>();
  const start = (id: string) => {
    const inc = (incarnations.get(id) ?? 0) + 1;
    incarnations.set(id, inc);
    const n = new SimNode(sim, id, inc);
    nodes.set(id, n);
    n.join();
    sim.at(sim.now + sim.between(0, 3000), () => n.proc.alive && n.route(`${APP}/Ingress`));
  };
  for (const id of nodeIds) sim.at(sim.between(0, 2000), () => start(id));

  const models = sim.between(1, 4);
  const cap = sim.random() < 0.3 ? sim.between(1, 2) : undefined;
  const spec = {
    name: APP,
    routePrefix: "/a",
    ingress: "Ingress",
    deployments: [
      sim.spec("Model", { numReplicas: models, ...(cap !== undefined && { maxReplicasPerNode: cap }) }),
      sim.spec("Ingress", { numReplicas: sim.between(1, 2) }, ["Model"]),
    ],
  };
  const app = { config: { name: APP, routePrefix: "/a" }, spec, files: [] } as unknown as PreparedApp;
  let deployed = false;
  // Once the head has read the cluster's state: a deploy that comes before is not stored (a known
  // race at a head's start: the admin API answers before restore() has set the applier's hooks).
  sim.at(sim.between(0, 3000), () => {
    const to = head;
    void to.restored!.then(() => {
      sim.trace(`deploy to head#${to.proc.incarnation}`);
      void to.deploy(app).then(() => {
        sim.trace("deployed");
        deployed = true;
      });
      to.controller.subscribe("main", APP, "Ingress");
    });
  });

  // Faults, each at its time: what the schedule did is checked against what the protocol says.
  sim.dropHeartbeats = sim.random() < 0.5 ? 0 : sim.random() * 0.25;
  const count = faultsWanted ? faultsWanted.length : sim.between(0, 3);
  const faults = faultsWanted ?? Array.from({ length: count }, () => sim.pick(FAULTS));
  let last = 5000;
  let survivors: string[] | undefined;
  let faultsAfterRestart = 0;
  const done: string[] = [];
  for (const fault of faults) {
    const at = sim.between(1000, 20_000);
    last = Math.max(last, at + 10_000);
    sim.at(at, () => {
      sim.trace(`fault: ${fault}`);
      if (survivors) faultsAfterRestart++;
      const live = [...nodes.values()].filter((n) => n.proc.alive && !n.left);
      if (fault === "crash") {
        const procs = [head.proc, ...live.map((n) => n.proc)];
        const all = procs.flatMap((p) => [...p.replicas.values()].filter((r) => r.alive));
        if (all.length) {
          sim.pick(all).crash();
          done.push("crash");
        }
        return;
      }
      if (fault === "natsRestart") {
        // Every node loses the server at once, and each is back when its reconnect succeeds.
        done.push("natsRestart");
        for (const p of [head, ...live]) {
          if (!p.proc.alive || p.proc.cut) continue;
          sim.cut(p.proc, p.conn);
          sim.at(sim.now + sim.between(100, 3000), () => sim.heal(p.proc, p.conn));
        }
        return;
      }
      if (fault === "cutHead") {
        if (!head.proc.alive || head.proc.cut) return;
        const h = head;
        done.push("cutHead");
        sim.cut(h.proc, h.conn);
        sim.at(sim.now + sim.between(200, 2 * DEAD_AFTER_MS), () => sim.heal(h.proc, h.conn));
        return;
      }
      if (fault === "headRestart") {
        if (!head.proc.alive) return;
        // What a restarted head must take back: worker replicas recorded in KV, on nodes alive now.
        const recorded = new Set([...sim.kv.data.keys()].filter((k) => k.startsWith("replica.")).map((k) => Buffer.from(k.slice(8), "base64url").toString()));
        survivors = live.filter((n) => !n.proc.cut).flatMap((n) => [...n.proc.replicas.values()].filter((r) => r.alive && recorded.has(r.id)).map((r) => r.id));
        faultsAfterRestart = 0;
        sim.trace(`the state holds ${[...sim.kv.data.keys()].join(", ")}`);
        sim.kill(head.proc, head.conn);
        done.push("headRestart");
        sim.at(sim.now + sim.between(0, 3000), () => {
          head = new SimHead(sim, "head", head.proc.incarnation + 1);
          head.restore();
          head.controller.subscribe("main", APP, "Ingress");
        });
        return;
      }
      if (live.length === 0) return;
      const n = sim.pick(live);
      done.push(`${fault} ${n.nodeId}`);
      if (fault === "cut") {
        sim.cut(n.proc, n.conn);
        sim.at(sim.now + sim.between(200, 2 * DEAD_AFTER_MS), () => sim.heal(n.proc, n.conn));
      } else if (fault === "kill" || fault === "killAndRejoin") {
        sim.kill(n.proc, n.conn);
        if (fault === "killAndRejoin") sim.at(sim.now + sim.between(100, 2 * DEAD_AFTER_MS), () => start(n.nodeId));
      } else {
        void n.leave().then(() => {
          if (fault === "leaveAndRejoin") sim.at(sim.now + sim.between(100, 3000), () => start(n.nodeId));
        });
      }
    });
  }

  await sim.runUntil(last + QUIET_MS);
  check(sim, head, nodes, { deployed, models, cap, survivors, faultsAfterRestart, where: where() });
  return { summary: `${sim.steps} ${done.join(",")} ${[...head.controller.replicaWorkers()].map((r) => `${r.spec.name}@${r.node}`).sort().join(" ")}` };
}

/** The invariants, once the cluster has been left alone for QUIET_MS. */
function check(
  sim: Sim,
  head: SimHead,
  nodes: Map<string, SimNode>,
  o: { deployed: boolean; models: number; cap: number | undefined; survivors: string[] | undefined; faultsAfterRestart: number; where: string },
): void {
  const fail = (what: string) => {
    throw new Error(`${o.where}: ${what}`);
  };
  for (const e of sim.errors) fail(e);
  for (const r of sim.logs) {
    if (r.level === "error") fail(`${r.proc} logged an error: ${r.msg}`);
    // The simulation's own bookkeeping: runtime code runs as some process (its timers die with it).
    if (r.proc === "the test") fail(`runtime code ran as no process (the simulation lost track): ${r.msg}`);
  }
  const liveNodes = [...nodes.values()].filter((n) => n.proc.alive && !n.proc.cut && !n.left);
  const procs = new Map([[head.nodeId, head.proc], ...liveNodes.map((n) => [n.nodeId, n.proc] as const)]);

  // Every ask ended: by its answer, or by its deadline (30 s, or the stop's 25 s). A spawn has
  // none (a constructor may take long): what ends the wait for it is the replica's start ending
  // (its node died, or never got the spawn), checked below; the request itself may stay behind.
  for (const [inbox, p] of sim.pending) {
    if (!p.conn.proc.alive || p.conn.closed || p.what.startsWith(`["spawn"`) || sim.now - p.since < 40_000) continue;
    fail(`${p.conn.proc.name} still waits for an answer on ${p.subject} (asked at ${(p.since / 1000).toFixed(3)} s, ${inbox}): ${p.what}`);
  }
  for (const r of head.controller.replicaWorkers()) if (r.state === "STARTING") fail(`${r.id} on ${r.node} is still starting`);
  if (!head.restored) fail("the head never restored");

  // Every replica the controller believes alive runs on exactly one live node, the one it names.
  const believed = [...head.controller.replicaWorkers()].filter((r) => r.alive);
  const running = new Map<string, string[]>();
  for (const [name, proc] of procs) for (const r of proc.replicas.values()) if (r.alive) running.set(r.id, [...(running.get(r.id) ?? []), name]);
  for (const r of believed) {
    const at = running.get(r.id) ?? [];
    if (at.length !== 1 || at[0] !== r.node) fail(`the controller believes ${r.id} runs on ${r.node}; it runs on [${at.join(", ")}]`);
  }
  // ... and nothing runs that it does not know (a replica nobody routes to holds a Worker for nothing).
  const known = new Set(believed.map((r) => r.id));
  for (const [id, at] of running) if (!known.has(id)) fail(`${id} runs on ${at.join(", ")}, unknown to the controller`);

  if (!o.deployed && !head.controller.apps.has(APP)) return;
  const app = head.controller.apps.get(APP);
  if (!app) return fail(`application ${APP} is gone`);
  // Deployed before enough nodes joined to hold maxReplicasPerNode: it failed, and says why.
  if (app.status === "DEPLOY_FAILED") {
    if (o.cap === undefined || !/maxReplicasPerNode/.test(app.message)) fail(`${APP} failed to deploy: ${app.message}`);
    return;
  }
  // Each deployment is whole again: a replica lost was replaced (where a node can take it).
  for (const [name, d] of app.deployments) {
    const want = name === "Model" && o.cap !== undefined ? Math.min(o.models, o.cap * procs.size) : d.wanted;
    const up = d.running().length;
    if (up !== want) fail(`${APP}/${name} runs ${up} replicas, wants ${want} (${d.status}: ${d.message})`);
  }

  // Every caller thread routes to exactly the running replicas, each over a link made once.
  const runningOf = (key: string) => app.deployments.get(key.split("/")[1]!)!.running().map((r) => r.id).sort();
  const threads = [
    ...[...procs.values()].map((p) => ({ name: `main of ${p.name}`, t: p.main, proc: p, keys: [`${APP}/Ingress`] })),
    ...[...procs.values()].flatMap((p) => [...p.replicas.values()].filter((r) => r.alive && r.spec.handles.length).map((r) => ({ name: r.id, t: r.thread, proc: p, keys: [`${APP}/Model`] }))),
  ];
  for (const { name, t, proc, keys } of threads) {
    for (const key of keys) {
      const routed = t.routes.get(key);
      if (proc.name !== head.nodeId && name.startsWith("main") && !nodes.get(proc.name)?.wants.has(key)) continue;
      if (!routed) fail(`${name} has no routes for ${key}`);
      const want = runningOf(key);
      if (JSON.stringify([...routed!].sort()) !== JSON.stringify(want)) fail(`${name} routes ${key} to [${routed}], the running replicas are [${want}]`);
      for (const id of want) if (!t.live.has(id)) fail(`${name} routes ${key} to ${id} but has no link to it`);
    }
    // A link is made once, unless its other end was closed: the head forgot the node's threads
    // (declared dead, started again, or left, while this run may already have been linked: the
    // replicas' nodes closed their ends, and calls in flight there have no answer coming, so a
    // new link fails them at once), the node found the head silent (it failed its links there),
    // or a node reconnected (links across the bridge are made anew once both ends are back).
    const me = `${proc.name}#${proc.incarnation}`;
    const missed = sim.logs.some(
      (r) =>
        /^node (\S+) (has not been heard from|was started again|is leaving)/.exec(r.msg)?.[1] === proc.name ||
        (r.proc?.startsWith(me) && r.msg.startsWith(`the head (node ${head.nodeId}) has not been heard from`)),
    );
    if (sim.reconnects === 0 && !missed) for (const [id, n] of t.links) if (n > 1) fail(`${name} got ${n} links to ${id}`);
  }

  // A head restart took back each worker replica that survived it, once, and started no duplicate.
  if (o.survivors && o.faultsAfterRestart === 0 && sim.dropHeartbeats === 0) {
    for (const id of o.survivors) if (!known.has(id)) fail(`${id} survived the head's restart but was not taken back`);
  }
  // A replica lost is reported lost once.
  const lost = new Map<string, number>();
  for (const r of sim.logs) if (r.msg.startsWith("replica died") && r.replica) lost.set(r.replica, (lost.get(r.replica) ?? 0) + 1);
  for (const [id, n] of lost) if (n > 1) fail(`${id} was reported dead ${n} times`);
}

const only = process.env.SIM_SEED;
const SCHEDULES = Number(process.env.SIM_SCHEDULES ?? 300);
/** Seeds that once failed (the bug named beside each), run every time besides the random ones. */
const REGRESSIONS: number[] = [
  7000335, // a head killed just after a deploy it said was done forgot the application (stored after)
  597654098, // a head back from a NATS restart before its nodes placed each start attempt on one of them, and gave up
];

test(`the control protocol keeps its invariants in ${only ? "seed " + only : SCHEDULES + " seeded random schedules"}`, async () => {
  // The same schedules on every run (CI must not fail on a schedule it never ran before): SIM_BASE explores others.
  const base = only ? Number(only) : Number(process.env.SIM_BASE ?? 1_000_000);
  const seeds = only ? [base] : [...REGRESSIONS, ...Array.from({ length: SCHEDULES }, (_, i) => base + i)];
  for (const seed of seeds) await schedule(seed);
  expect(seeds.length).toBeGreaterThan(0);
}, 120_000);

test("a seed replays: the same schedule, step for step, with the same outcome", async () => {
  const seed = 20261207;
  const first = await schedule(seed, ["headRestart", "killAndRejoin"]);
  expect((await schedule(seed, ["headRestart", "killAndRejoin"])).summary).toBe(first.summary);
  expect((await schedule(seed + 1, ["headRestart", "killAndRejoin"])).summary).not.toBe(first.summary);
});
