// Autoscaling: the model of examples/autoscaling.ts (50 ms a request, 2 in flight per replica
// wanted) under load that steps 0 -> 4 -> 16 -> 4 -> 0 callers. Prints the replica count over
// time; reports the first answer from zero replicas and the time to scale up and down, each
// against the delay the config imposes (the floor a policy with those delays cannot beat).
import { serve, type AutoscalingConfig, type DeploymentHandle } from "tsserve";
import { Model } from "../../examples/autoscaling.ts";
import type { Row } from "../report.ts";
import type { BenchCase } from "./index.ts";
import { withServe } from "./serve.ts";

const config: AutoscalingConfig = {
  minReplicas: 0,
  maxReplicas: 8,
  targetOngoingRequests: 2,
  upscaleDelayMs: 300,
  downscaleDelayMs: 1000,
  downscaleToZeroDelayMs: 1000,
  lookBackPeriodMs: 500,
};

interface Sample {
  t: number;
  load: number;
  current: number;
  target: number;
}

async function replicas(): Promise<{ current: number; target: number }> {
  const d = (await serve.status()).applications.bench?.deployments.Model;
  return { current: d?.currentReplicas ?? 0, target: d?.targetReplicas ?? 0 };
}

/** Callers making one request after another; `set(n)` changes how many. */
function loadOf(handle: DeploymentHandle<typeof Model>) {
  let wanted = 0;
  let running = 0;
  const all: Promise<void>[] = [];
  const caller = async (k: number) => {
    running++;
    while (k < wanted) await handle.remote();
    running--;
  };
  return {
    get callers() {
      return wanted;
    },
    set(n: number) {
      const from = Math.max(wanted, running);
      wanted = n;
      for (let k = from; k < n; k++) all.push(caller(k));
    },
    done: () => Promise.all(all),
  };
}

/** Polls the replica count every 100 ms until `ok` holds or `limitMs` passes; ms it took (or Infinity). */
async function until(t0: number, samples: Sample[], load: () => number, ok: (s: Sample) => boolean, limitMs: number): Promise<number> {
  const start = performance.now();
  for (;;) {
    const s = { t: performance.now() - t0, load: load(), ...(await replicas()) };
    samples.push(s);
    if (ok(s)) return performance.now() - start;
    if (performance.now() - start > limitMs) return Infinity;
    await Bun.sleep(100);
  }
}

export const autoscaling: BenchCase = {
  name: "autoscaling: load steps",
  async run(ctx) {
    const holdMs = ctx.quick ? 1500 : 3000;
    const app = Model.options({ autoscalingConfig: config }).bind();
    return withServe(app, async (_url, h) => {
      const handle = h as unknown as DeploymentHandle<typeof Model>;
      const samples: Sample[] = [];
      const load = loadOf(handle);
      const callers = () => load.callers;
      const t0 = performance.now();
      const hold = (ms: number) => until(t0, samples, callers, () => false, ms);

      const first = performance.now();
      await handle.remote();
      const fromZeroMs = performance.now() - first;
      load.set(4);
      await until(t0, samples, callers, (s) => s.current >= 2, 10_000);
      await hold(holdMs);
      load.set(16);
      const upMs = await until(t0, samples, callers, (s) => s.current >= 8, 10_000);
      await hold(holdMs);
      load.set(4);
      const downMs = await until(t0, samples, callers, (s) => s.current <= 2 && s.target <= 2, 10_000);
      await hold(holdMs);
      load.set(0);
      await load.done();
      const zeroMs = await until(t0, samples, callers, (s) => s.current === 0, 10_000);

      // The replica count over time, one line per change.
      const timeline = samples.filter((s, i) => i === 0 || s.load !== samples[i - 1]!.load || s.current !== samples[i - 1]!.current || s.target !== samples[i - 1]!.target);
      console.error("bench: autoscaling timeline (s, callers, running replicas / target):");
      for (const s of timeline) console.error(`  ${(s.t / 1000).toFixed(1).padStart(5)} s  ${String(s.load).padStart(2)} callers  ${s.current} / ${s.target}`);

      const rows: Row[] = [
        { name: "autoscale: first answer from 0 replicas", value: fromZeroMs, unit: "ms", targetValue: 1000, lowerIsBetter: true },
        { name: "autoscale: scale up 2 -> 8 (4 -> 16 callers)", value: upMs, unit: "ms", ratioTo: config.upscaleDelayMs },
        { name: "autoscale: scale down 8 -> 2 (16 -> 4 callers)", value: downMs, unit: "ms", ratioTo: config.downscaleDelayMs },
        { name: "autoscale: 2 -> 0 once idle", value: zeroMs, unit: "ms", ratioTo: config.downscaleDelayMs! + config.downscaleToZeroDelayMs! },
      ];
      return rows;
    });
  },
};
