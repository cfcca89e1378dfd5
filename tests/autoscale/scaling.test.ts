// Autoscaling with real replicas: scale up under load, down when it drops, hold under steady
// load, starting replicas stopped first, and what serve.status() shows. Delays are short here.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { serve, type AutoscalingConfig, type DeploymentHandle, type DeploymentStatusInfo } from "tsserve";
import { eventually, startServe, type Served, sleep } from "../harness.ts";
import { deployed } from "../fixtures/scope.ts";
import { Gated, Sleepy } from "../fixtures/autoscale.ts";

let s: Served;
beforeAll(async () => {
  s = await startServe();
});
afterAll(() => s[Symbol.asyncDispose]());

async function deployment(app: string, name: string): Promise<DeploymentStatusInfo> {
  return (await serve.status()).applications[app]!.deployments[name]!;
}

/** The deployment's status once `ok` holds for it (bounded). */
async function until(app: string, name: string, ok: (d: DeploymentStatusInfo) => boolean, timeoutMs = 5000): Promise<DeploymentStatusInfo> {
  return (await eventually(async () => {
    const d = await deployment(app, name);
    return ok(d) && d;
  }, timeoutMs)) as DeploymentStatusInfo;
}

/** `concurrency` callers, each making one call after another until stopped; counts answers and errors. */
function closedLoop(handle: DeploymentHandle<typeof Sleepy>, concurrency: number, ms: number) {
  let stop = false;
  const seen = { ok: 0, errors: [] as Error[] };
  const loops = Array.from({ length: concurrency }, async () => {
    // A loop ends at its first error: a call that fails at once would otherwise spin on
    // microtasks, never letting `stop` be set, and grow the list until the array overflows.
    while (!stop && seen.errors.length === 0) {
      await handle.remote(ms).then(
        () => seen.ok++,
        (e: Error) => seen.errors.push(e),
      );
    }
  });
  return {
    seen,
    async stop() {
      stop = true;
      await Promise.all(loops);
      return seen;
    },
  };
}

const fast: AutoscalingConfig = { minReplicas: 1, maxReplicas: 4, targetOngoingRequests: 1, upscaleDelayMs: 200, downscaleDelayMs: 400, lookBackPeriodMs: 300 };

describe("autoscaling", () => {
  test("scales up under load, and down (draining, nothing lost) when the load drops", async () => {
    await using app = await deployed(Sleepy.options({ autoscalingConfig: fast }).bind(), { name: "up-down" });
    expect(await deployment("up-down", "Sleepy")).toMatchObject({ targetReplicas: 1, currentReplicas: 1 });
    const heavy = closedLoop(app.handle, 4, 50);
    const up = await until("up-down", "Sleepy", (d) => d.currentReplicas === 4, 10_000);
    expect(up.targetReplicas).toBe(4);
    expect(up.autoscaling!.lastDecision!.to).toBeGreaterThan(up.autoscaling!.lastDecision!.from);
    expect(up.autoscaling!.lastDecision!.reason).toContain("above target");
    await heavy.stop();
    // One caller goes on while it scales down: the replicas it stops finish what they hold.
    const light = closedLoop(app.handle, 1, 50);
    const down = await until("up-down", "Sleepy", (d) => d.currentReplicas === 1 && d.replicas.length === 1, 10_000);
    expect(down).toMatchObject({ status: "HEALTHY", targetReplicas: 1, replicaStates: { RUNNING: 1 } });
    expect(down.autoscaling!.lastDecision).toMatchObject({ to: 1 });
    const seen = await light.stop();
    expect(heavy.seen.errors).toEqual([]);
    expect(seen.errors).toEqual([]);
    expect(heavy.seen.ok + seen.ok).toBeGreaterThan(20);
  });

  test("steady load holds the replica count: no oscillation", async () => {
    const config = { ...fast, maxReplicas: 6, targetOngoingRequests: 2, upscaleDelayMs: 100, downscaleDelayMs: 300, lookBackPeriodMs: 500 };
    await using app = await deployed(Sleepy.options({ autoscalingConfig: config }).bind(), { name: "steady" });
    const load = closedLoop(app.handle, 4, 30);
    const settled = await until("steady", "Sleepy", (d) => d.currentReplicas === 2 && d.replicas.length === 2, 10_000);
    const decided = settled.autoscaling!.lastDecision;
    // Many times the delays: any wobble would have acted by now.
    for (let i = 0; i < 15; i++) {
      await sleep(100);
      const d = await deployment("steady", "Sleepy");
      expect([d.targetReplicas, d.currentReplicas, d.replicas.length]).toEqual([2, 2, 2]);
      expect(d.autoscaling!.lastDecision).toEqual(decided);
      expect(d.autoscaling!.totalRequests).toBeLessThanOrEqual(4);
    }
    expect((await load.stop()).errors).toEqual([]);
  });

  test("scale-down stops replicas that are still starting before running ones", async () => {
    const flags = new SharedArrayBuffer(8);
    const c = new Int32Array(flags);
    const config = { minReplicas: 1, maxReplicas: 3, targetOngoingRequests: 1, upscaleDelayMs: 0, downscaleDelayMs: 300, lookBackPeriodMs: 100 };
    await using app = await deployed(Gated.options({ autoscalingConfig: config }).bind(flags), { name: "starting-first" });
    const first = (await deployment("starting-first", "Gated")).replicas[0]!.replicaId;
    const calls = [0, 1, 2].map(() => app.handle.remote(300));
    // Three in flight at one replica: it wants three, and two start (and wait at the gate).
    await until("starting-first", "Gated", (d) => d.replicaStates.STARTING === 2);
    expect(await Promise.all(calls)).toEqual([first, first, first]);
    // No load: back to one, by stopping the two that never ran.
    const d = await until("starting-first", "Gated", (d) => d.replicas.length === 1);
    expect(d.replicas.map((r) => [r.replicaId, r.state])).toEqual([[first, "RUNNING"]]);
    expect(d.autoscaling!.lastDecision).toMatchObject({ from: 3, to: 1 });
    expect(Atomics.load(c, 0)).toBe(3);
    Atomics.store(c, 1, 1);
    expect(await app.handle.remote(0)).toBe(first);
  });

  test('numReplicas: "auto" autoscales between 1 and 100 replicas, starting with one', async () => {
    await using app = await deployed(Sleepy.options({ numReplicas: "auto" }).bind(), { name: "auto" });
    expect(typeof (await app.handle.remote(0))).toBe("string");
    const d = await deployment("auto", "Sleepy");
    expect(d).toMatchObject({ status: "HEALTHY", targetReplicas: 1, currentReplicas: 1 });
    expect(d.autoscaling).toMatchObject({ minReplicas: 1, maxReplicas: 100, lastDecision: null });
  });

  test("a redeploy with new autoscaling bounds applies in place, keeping replicas", async () => {
    const config = { ...fast, minReplicas: 2, maxReplicas: 4 };
    await using app = await deployed(Sleepy.options({ autoscalingConfig: config }).bind(), { name: "rebound" });
    const before = (await deployment("rebound", "Sleepy")).replicas.map((r) => r.replicaId);
    expect(before.length).toBe(2);
    await serve.run(Sleepy.options({ autoscalingConfig: { ...config, minReplicas: 1, maxReplicas: 1 } }).bind(), { name: "rebound", routePrefix: null });
    const d = await deployment("rebound", "Sleepy");
    expect(d).toMatchObject({ targetReplicas: 1, currentReplicas: 1, autoscaling: { minReplicas: 1, maxReplicas: 1 } });
    expect(before).toContain(d.replicas[0]!.replicaId);
    expect(before).toContain(await app.handle.remote(0));
  });

  test("a fixed numReplicas shows its target and no autoscaling", async () => {
    await using _ = await deployed(Sleepy.options({ numReplicas: 2, autoscalingConfig: undefined }).bind(), { name: "fixed" });
    const d = await deployment("fixed", "Sleepy");
    expect(d).toMatchObject({ targetReplicas: 2, currentReplicas: 2 });
    expect(d.autoscaling).toBeUndefined();
  });
});
