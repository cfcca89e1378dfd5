// Timing loops for bench/runtimes.ts with web-standard clocks only (Bun.nanoseconds and Bun.sleep
// would tie them to Bun): the same code measures both runtimes.

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Awaits `call` one at a time; per-call microseconds after a warm-up. */
export async function sequential(call: () => PromiseLike<unknown>, count: number, warmup: number): Promise<{ p50Us: number; p99Us: number }> {
  for (let i = 0; i < warmup; i++) await call();
  const us = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await call();
    us[i] = (performance.now() - t0) * 1000;
  }
  us.sort();
  return { p50Us: us[Math.floor(count * 0.5)]!, p99Us: us[Math.floor(count * 0.99)]! };
}

/** `inFlight` loops, each awaiting one call then making the next, for `durationS` (after a short warm-up); calls per second. */
export async function pipelined(call: () => PromiseLike<unknown>, inFlight: number, durationS: number): Promise<number> {
  let done = 0;
  let stop = false;
  const loop = async () => {
    while (!stop) {
      await call();
      done++;
    }
  };
  const warm = Array.from({ length: inFlight }, loop);
  await sleep(Math.min(500, durationS * 250));
  stop = true;
  await Promise.all(warm);
  stop = false;
  done = 0;
  const t0 = performance.now();
  const loops = Array.from({ length: inFlight }, loop);
  await sleep(durationS * 1000);
  stop = true;
  const seconds = (performance.now() - t0) / 1000;
  const counted = done;
  await Promise.all(loops);
  return counted / seconds;
}
