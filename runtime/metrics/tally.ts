/**
 * Counters and histograms that the hot path feeds with plain number increments, and that
 * prom-client reads only when scraped. prom-client's own `inc(labels)` / `observe(labels, v)`
 * hash the label object into a string on every call (a `labels()` child does too); here a
 * series is an object made once per label set and kept by the caller, so a request costs a few
 * additions. The exposition and the merge across threads stay prom-client's.
 *
 * This writes prom-client's per-series records (`hashMap`) at collect time: their shape is
 * prom-client 15's (`{ labels, value }` for counters, `{ labels, bucketValues, sum, count }`
 * for histograms), which is why package.json pins `~15.1`; tests/metrics check the output.
 */
import client from "prom-client";

type Labels = Record<string, string>;

/** One counter series. */
export class CounterSeries {
  value = 0;
  constructor(readonly labels: Labels) {}
  inc(n = 1): void {
    this.value += n;
  }
}

/** One histogram series: counts per bucket (the last one is +Inf), sum and count. */
export class HistogramSeries {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(
    readonly labels: Labels,
    readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }
  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }
}

/** A prom-client Counter whose series are CounterSeries. */
export class TallyCounter {
  readonly metric: client.Counter;
  readonly #series = new Set<CounterSeries>();
  /** Runs before each scrape: a counter kept elsewhere (the SDK's totals) copies its figures in. */
  refresh: (() => void) | undefined;

  constructor(name: string, help: string, labelNames: readonly string[], registry: client.Registry) {
    const series = this.#series;
    const self = this;
    this.metric = new client.Counter({
      name,
      help,
      labelNames: labelNames as string[],
      registers: [registry],
      collect(this: client.Counter) {
        self.refresh?.();
        const map: Record<string, { labels: Labels; value: number }> = {};
        let i = 0;
        for (const s of series) map[i++] = { labels: s.labels, value: s.value };
        (this as unknown as { hashMap: typeof map }).hashMap = map;
      },
    });
  }

  /** A new series (the caller keeps it: make one per label set). */
  series(labels: Labels): CounterSeries {
    const s = new CounterSeries(labels);
    this.#series.add(s);
    return s;
  }
}

/** A prom-client Histogram whose series are HistogramSeries. */
export class TallyHistogram {
  readonly metric: client.Histogram;
  readonly #series = new Set<HistogramSeries>();

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    readonly buckets: readonly number[],
    registry: client.Registry,
  ) {
    const series = this.#series;
    this.metric = new client.Histogram({
      name,
      help,
      labelNames: labelNames as string[],
      buckets: buckets as number[],
      registers: [registry],
      collect(this: client.Histogram) {
        const map: Record<string, { labels: Labels; bucketValues: Record<number, number>; sum: number; count: number }> = {};
        let i = 0;
        for (const s of series) {
          const bucketValues: Record<number, number> = {};
          s.bounds.forEach((b, j) => (bucketValues[b] = s.counts[j]!));
          map[i++] = { labels: s.labels, bucketValues, sum: s.sum, count: s.count };
        }
        (this as unknown as { hashMap: typeof map }).hashMap = map;
      },
    });
  }

  series(labels: Labels): HistogramSeries {
    const s = new HistogramSeries(labels, this.buckets);
    this.#series.add(s);
    return s;
  }
}
