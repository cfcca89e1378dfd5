/**
 * The built-in metrics' series, fed by the hot path with plain number increments: a series is
 * an object made once per label set and kept by the caller, so counting a request builds no
 * string and hashes no labels (prom-client's `inc(labels)` and its `labels()` children both do).
 * At scrape time each metric turns into a Figure (sdk/figures.ts), which the main thread merges
 * and prints with prom-client.
 */
import { type Figure, HistogramSeries, type Labels } from "../../sdk/figures.ts";

export { HistogramSeries };

/** One counter series. */
export class CounterSeries {
  value = 0;
  constructor(readonly labels: Labels) {}
}

/** Something that turns into a Figure at scrape time; `extra` labels are added to every series. */
export interface FigureSource {
  readonly name: string;
  figure(extra?: Labels): Figure;
}

const withExtra = (labels: Labels, extra: Labels | undefined): Labels => (extra ? { ...labels, ...extra } : labels);

export class TallyCounter implements FigureSource {
  readonly #series: CounterSeries[] = [];
  /** Runs before each scrape: a counter kept elsewhere (the SDK's totals) copies its figures in. */
  refresh: (() => void) | undefined;

  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  /** A new series (the caller keeps it: make one per label set). */
  series(labels: Labels): CounterSeries {
    const s = new CounterSeries(labels);
    this.#series.push(s);
    return s;
  }

  figure(extra?: Labels): Figure {
    this.refresh?.();
    return { name: this.name, help: this.help, type: "counter", values: this.#series.map((s) => ({ labels: withExtra(s.labels, extra), value: s.value })), aggregator: "sum" };
  }
}

export class TallyHistogram implements FigureSource {
  readonly #series: HistogramSeries[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {}

  series(labels: Labels): HistogramSeries {
    const s = new HistogramSeries(labels, this.buckets);
    this.#series.push(s);
    return s;
  }

  figure(extra?: Labels): Figure {
    return { name: this.name, help: this.help, type: "histogram", values: this.#series.flatMap((s) => s.values(this.name, extra)), aggregator: "sum" };
  }
}

/** A gauge whose values are read from `read()` at scrape time (nothing on the hot path). */
export class LiveGauge implements FigureSource {
  read: (() => Iterable<[Labels, number]>) | undefined;

  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  figure(extra?: Labels): Figure {
    const values = [];
    if (this.read) for (const [labels, value] of this.read()) values.push({ labels: withExtra(labels, extra), value });
    return { name: this.name, help: this.help, type: "gauge", values, aggregator: "sum" };
  }
}
