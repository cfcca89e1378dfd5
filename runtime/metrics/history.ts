/**
 * The dashboard's charts: every SAMPLE_MS, each application's request rate, error rate and
 * p50/p99 latency over that interval, from the proxy's HTTP metrics (the same tallies GET
 * /metrics reads), kept for the last 5 minutes. Sampling starts when a dashboard first asks.
 */
import { httpTotalsByApp } from "./http.ts";

export const SAMPLE_MS = 2000;
const KEEP = (5 * 60 * 1000) / SAMPLE_MS;

/** One application's chart data: parallel arrays, as uPlot takes them (time in seconds). */
export interface AppSeries {
  time: number[];
  requestsPerS: number[];
  errorsPerS: number[];
  p50Ms: (number | null)[];
  p99Ms: (number | null)[];
}

/** The latency under which a fraction `q` of the interval's requests fell (interpolated within its bucket). */
export function quantile(q: number, counts: ArrayLike<number>, bounds: readonly number[]): number | null {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i]!;
  if (total === 0) return null;
  const want = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (seen + c >= want && c > 0) {
      const lo = i === 0 ? 0 : bounds[i - 1]!;
      const hi = i < bounds.length ? bounds[i]! : bounds[bounds.length - 1]!;
      return lo + (hi - lo) * ((want - seen) / c);
    }
    seen += c;
  }
  return bounds[bounds.length - 1]!;
}

export class History {
  readonly #series = new Map<string, AppSeries>();
  #last: { at: number; totals: ReturnType<typeof httpTotalsByApp> } | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** The charts so far (starting the sampler on first use). */
  read(): Record<string, AppSeries> {
    if (!this.#timer) {
      this.sample();
      this.#timer = setInterval(() => this.sample(), SAMPLE_MS);
      (this.#timer as { unref?: () => void }).unref?.();
    }
    return Object.fromEntries(this.#series);
  }

  /** Takes one sample now. */
  sample(now = Date.now()): void {
    const totals = httpTotalsByApp();
    const last = this.#last;
    this.#last = { at: now, totals };
    if (!last) return;
    const dt = (now - last.at) / 1000;
    if (dt <= 0) return;
    for (const [app, t] of totals) {
      const before = last.totals.get(app) ?? { requests: 0, errors: 0, counts: new Float64Array(t.counts.length), bounds: t.bounds };
      const delta = t.counts.map((c, i) => c - before.counts[i]!);
      let s = this.#series.get(app);
      if (!s) this.#series.set(app, (s = { time: [], requestsPerS: [], errorsPerS: [], p50Ms: [], p99Ms: [] }));
      s.time.push(Math.round(now / 1000));
      s.requestsPerS.push((t.requests - before.requests) / dt);
      s.errorsPerS.push((t.errors - before.errors) / dt);
      s.p50Ms.push(quantile(0.5, delta, t.bounds));
      s.p99Ms.push(quantile(0.99, delta, t.bounds));
      if (s.time.length > KEEP) for (const k of Object.keys(s) as (keyof AppSeries)[]) s[k].shift();
    }
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

export const history = new History();
