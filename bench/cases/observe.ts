// Observability's cost (issue 13): (c) with metrics and the access log on (the default) and off,
// measured alternately in one run, and the time of one scrape of 32 replicas.
// The access log goes to /dev/null through the logger's own writer (bench/run.ts points it there):
// every cost but a terminal's.
import { serve } from "tsserve";
import { NoOp, noopApp } from "../apps/noop.ts";
import type { Row } from "../report.ts";
import type { BenchCase } from "./index.ts";
import { loadLikeFloors, withServe } from "./serve.ts";
import { measureHttp } from "../load.ts";

const ENV = ["TSSERVE_METRICS", "TSSERVE_ACCESS_LOG"] as const;

/** Throughput, and CPU microseconds per request of this process (main thread and replicas), which noise on a shared machine moves far less. */
async function measure(ctx: Parameters<BenchCase["run"]>[0], on: boolean): Promise<{ rps: number; cpuUs: number }> {
  for (const k of ENV) {
    if (on) delete process.env[k];
    else process.env[k] = "0";
  }
  try {
    return await withServe(noopApp, async (url) => {
      await loadLikeFloors({ ...ctx, http: { ...ctx.http, durationS: ctx.http.warmupS || 1, warmupS: 0 } }, url);
      const before = process.cpuUsage();
      const r = await measureHttp(url, ctx.http);
      ctx.httpErrors += r.errors;
      const used = process.cpuUsage(before);
      return { rps: r.rps, cpuUs: (used.user + used.system) / (r.rps * ctx.http.durationS) };
    });
  } finally {
    for (const k of ENV) delete process.env[k];
  }
}

export const observability: BenchCase = {
  name: "(c) metrics + access log on vs off; scrape of 32 replicas",
  async run(ctx) {
    const saved = { ...process.env };
    try {
      // Alternated, and the median of each side: load that comes and goes on a shared machine
      // falls on both sides, and one disturbed run does not decide the ratio.
      const rounds = ctx.quick ? 1 : 3;
      const on: { rps: number; cpuUs: number }[] = [];
      const off: { rps: number; cpuUs: number }[] = [];
      for (let i = 0; i < rounds; i++) {
        off.push(await measure(ctx, false));
        on.push(await measure(ctx, true));
      }
      const rps = (xs: typeof on) => median(xs.map((x) => x.rps));
      const cpu = (xs: typeof on) => median(xs.map((x) => x.cpuUs));
      const scrapeMs = await scrape32();
      const rows: Row[] = [
        { name: `(c) metrics + access log off (median of ${rounds})`, value: rps(off), unit: "req/s", ratioTo: ctx.floors.hello.rps },
        { name: `(c) metrics + access log on (median of ${rounds})`, value: rps(on), unit: "req/s", ratioTo: rps(off), target: 0.9 },
        { name: "(c)   CPU per request, off", value: cpu(off), unit: "us" },
        { name: "(c)   CPU per request, on", value: cpu(on), unit: "us", ratioTo: cpu(off), lowerIsBetter: true },
        { name: "scrape of 32 replicas (median of 5)", value: scrapeMs, unit: "ms", targetValue: 1000, lowerIsBetter: true },
      ];
      return rows;
    } finally {
      for (const k of ENV) if (saved[k] === undefined) delete process.env[k];
    }
  },
};

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Median time of a full scrape (every thread's registry, merged) with 32 replicas that have served traffic. */
async function scrape32(): Promise<number> {
  await serve.shutdown();
  await serve.start({ http: { port: 0 } });
  try {
    const h = await serve.run(NoOp.options({ numReplicas: 32 }).bind(), { name: "scrape", routePrefix: null });
    await Promise.all(Array.from({ length: 3200 }, () => h.remote()));
    await serve.metrics();
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const text = await serve.metrics();
      times.push(performance.now() - t0);
      if (!text.includes('tsserve_deployment_request_counter_total{route=""')) throw new Error("the scrape holds no replica counters");
    }
    return median(times);
  } finally {
    await serve.shutdown();
  }
}
