/**
 * Metric figures as plain data: what every thread counts and sends to the main thread at scrape
 * time, in the shape of prom-client's `getMetricsAsJSON()` (so the main thread merges them with
 * prom-client's AggregatorRegistry). Made without prom-client: loading it costs a replica
 * a few hundred milliseconds of cold start on these machines, and counting needs none of it.
 */

export type Labels = Record<string, string>;

export interface FigureValue {
  labels: Record<string, string | number>;
  value: number;
  /** For histograms: `<name>_bucket`, `<name>_sum` or `<name>_count`. */
  metricName?: string;
}

/** One metric: its series' values; `aggregator: "sum"` merges threads by adding. */
export interface Figure {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  values: FigureValue[];
  aggregator: "sum";
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

  /** Its values as Prometheus has them: cumulative buckets, +Inf, sum and count. */
  values(name: string, extra: Labels | undefined): FigureValue[] {
    const labels = extra ? { ...this.labels, ...extra } : this.labels;
    const out: FigureValue[] = [];
    let acc = 0;
    this.bounds.forEach((le, i) => {
      acc += this.counts[i]!;
      out.push({ labels: { le, ...labels }, value: acc, metricName: `${name}_bucket` });
    });
    out.push(
      { labels: { le: "+Inf", ...labels }, value: this.count, metricName: `${name}_bucket` },
      { labels, value: this.sum, metricName: `${name}_sum` },
      { labels, value: this.count, metricName: `${name}_count` },
    );
    return out;
  }
}
