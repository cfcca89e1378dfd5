// (e) handle calls from the main thread to a no-op deployment: one at a time (p50 latency,
// against the raw postMessage round trip) and 256 in flight (calls/s, against raw pipelined).
import type { DeploymentHandle } from "tsserve";
import { noopApp } from "../apps/noop.ts";
import type { Row } from "../report.ts";
import type { BenchCase } from "./index.ts";
import { withServe } from "./serve.ts";

/** Awaits `handle.remote()` one call at a time; per-call microseconds after a warm-up. */
export async function sequential(handle: DeploymentHandle, count: number, warmup: number): Promise<{ p50Us: number; p99Us: number; meanUs: number }> {
  for (let i = 0; i < warmup; i++) await handle.remote();
  const us = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const t0 = Bun.nanoseconds();
    await handle.remote();
    us[i] = (Bun.nanoseconds() - t0) / 1000;
  }
  const meanUs = us.reduce((a, b) => a + b, 0) / count;
  us.sort();
  return { p50Us: us[Math.floor(count * 0.5)]!, p99Us: us[Math.floor(count * 0.99)]!, meanUs };
}

/** `inFlight` loops, each awaiting one call then making the next, for durationS; calls per second. */
export async function pipelined(handle: DeploymentHandle, inFlight: number, durationS: number): Promise<number> {
  let done = 0;
  let stop = false;
  const loop = async () => {
    while (!stop) {
      await handle.remote();
      done++;
    }
  };
  // Warm-up: the JIT, the router and the replica see the same load before the clock starts.
  const warm = Array.from({ length: inFlight }, loop);
  await Bun.sleep(Math.min(500, durationS * 250));
  stop = true;
  await Promise.all(warm);
  stop = false;
  done = 0;
  const t0 = Bun.nanoseconds();
  const loops = Array.from({ length: inFlight }, loop);
  await Bun.sleep(durationS * 1000);
  stop = true;
  const seconds = (Bun.nanoseconds() - t0) / 1e9;
  const counted = done;
  await Promise.all(loops);
  return counted / seconds;
}

export const handleCalls: BenchCase = {
  name: "(e) handle calls",
  async run(ctx) {
    const { roundTrip, pipelined: raw } = ctx.floors;
    return withServe(noopApp, async (_url, handle) => {
      if ((await handle.remote()) !== "hello") throw new Error("(e): the no-op deployment did not answer \"hello\"");
      const seq = await sequential(handle, ctx.quick ? 5_000 : 20_000, 2_000);
      const perS = await pipelined(handle, 256, ctx.quick ? 1 : 2);
      const rows: Row[] = [
        { name: "(e) handle call p50, sequential", value: seq.p50Us, unit: "us", ratioTo: roundTrip.p50Us, target: 1.5, lowerIsBetter: true },
        { name: "(e)   p99, sequential", value: seq.p99Us, unit: "us", ratioTo: roundTrip.p99Us },
        { name: "(e) handle calls, 256 in flight", value: perS, unit: "calls/s", ratioTo: raw.perS, targetValue: 300_000 },
      ];
      return rows;
    });
  },
};
