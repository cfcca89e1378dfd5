/**
 * User metrics (API.md section 9): `serve.metrics.Counter`, `Gauge` and `Histogram`, used with
 * prom-client's call forms (`inc(labels?, value?)`, `set(labels?, value)`, `observe(labels?,
 * value)`) anywhere in replica code. Each thread keeps its own; inside a replica the runtime adds
 * the replica's `application`, `deployment` and `replica` labels, and every scrape merges all
 * threads' figures (sdk/figures.ts says why this does not load prom-client in each replica).
 */
import { type Figure, type FigureValue, HistogramSeries, type Labels } from "./figures.ts";

/** What the user metric classes take. */
export interface MetricOptions {
  /** The metric's name: letters, digits, `_` and `:`, not starting with a digit. */
  name: string;
  help: string;
  /** Label names of the user's own; `application`, `deployment` and `replica` are added. */
  labelNames?: string[];
}

export interface HistogramOptions extends MetricOptions {
  /** Upper bounds of the buckets (default: Ray's latency buckets, in ms). */
  buckets?: number[];
}

type LabelValues = Record<string, string | number>;

const RUNTIME_LABELS = ["application", "deployment", "replica"];
const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const DEFAULT_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 300, 400, 500, 1000, 2000, 5000, 10000, 60000, 120000, 300000, 600000];

/** This thread's user metrics, by name. */
const made = new Map<string, UserMetric>();
const reserved = new Set<string>();

/** Names of built-in metrics: a user metric may not take one (the runtime declares them). */
export function reserveMetricNames(names: Iterable<string>): void {
  for (const n of names) reserved.add(n);
}

/** This thread's user metrics as figures; `extra` labels (the replica's) are added to every series. */
export function userFigures(extra?: Labels): Figure[] {
  return [...made.values()].map((m) => m.figure(extra));
}

abstract class UserMetric {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];

  constructor(
    readonly type: Figure["type"],
    options: MetricOptions,
  ) {
    const where = `serve.metrics.${type[0]!.toUpperCase()}${type.slice(1)}`;
    if (options === null || typeof options !== "object") throw new TypeError(`${where}: options must be an object { name, help, labelNames? }`);
    const { name, help, labelNames = [] } = options;
    if (typeof name !== "string" || !NAME.test(name)) throw new TypeError(`${where}: name must be letters, digits, "_" or ":" and not start with a digit, got ${JSON.stringify(name)}`);
    if (typeof help !== "string" || !help) throw new TypeError(`${where}: help must be a non-empty string describing metric "${name}"`);
    if (reserved.has(name)) throw new TypeError(`${where}: "${name}" is the name of a built-in tsserve metric; choose another name`);
    if (!Array.isArray(labelNames) || labelNames.some((l) => typeof l !== "string" || !LABEL.test(l) || l === "le")) {
      throw new TypeError(`${where}: labelNames must be an array of label names (letters, digits and "_"; not "le"), got ${JSON.stringify(labelNames)}`);
    }
    const runtimeLabel = labelNames.find((l) => RUNTIME_LABELS.includes(l));
    if (runtimeLabel) throw new TypeError(`${where}: label "${runtimeLabel}" is added by tsserve to every user metric; remove it from labelNames`);
    this.name = name;
    this.help = help;
    this.labelNames = [...labelNames];
  }

  /** The metric of this name made before in this thread, if it is the same definition; throws if it is another. */
  protected static existing(type: Figure["type"], options: MetricOptions): UserMetric | undefined {
    const found = made.get(options?.name);
    if (!found) return undefined;
    const where = `serve.metrics.${type[0]!.toUpperCase()}${type.slice(1)}`;
    if (found.type !== type) throw new TypeError(`${where}: metric "${found.name}" already exists as a ${found.type}; a name has one type`);
    if (JSON.stringify(found.labelNames) !== JSON.stringify(options.labelNames ?? [])) {
      throw new TypeError(`${where}: metric "${found.name}" already exists with labelNames ${JSON.stringify(found.labelNames)}, not ${JSON.stringify(options.labelNames ?? [])}`);
    }
    return found;
  }

  protected register(): void {
    made.set(this.name, this);
  }

  /** The series key of `labels`, checked against labelNames (prom-client's rule: every given label must be declared). */
  protected key(labels: LabelValues | undefined): { key: string; labels: Labels } {
    const out: Labels = {};
    if (labels) {
      for (const k of Object.keys(labels)) {
        if (!this.labelNames.includes(k)) {
          throw new TypeError(`metric "${this.name}": label "${k}" is not one of its labelNames (${this.labelNames.join(", ") || "none"})`);
        }
        out[k] = String(labels[k]);
      }
    }
    let key = "";
    for (const n of this.labelNames) key += `${out[n] ?? ""}\u0000`;
    return { key, labels: out };
  }

  abstract figure(extra?: Labels): Figure;
}

/** Splits prom-client's `(labels?, value?)` call form. */
function args(a: LabelValues | number | undefined, b: number | undefined, fallback: number | undefined): { labels: LabelValues | undefined; value: number | undefined } {
  if (typeof a === "object" && a !== null) return { labels: a, value: b ?? fallback };
  return { labels: undefined, value: a ?? fallback };
}

function checkValue(metric: string, v: number | undefined): number {
  if (typeof v !== "number" || Number.isNaN(v)) throw new TypeError(`metric "${metric}": the value must be a number, got ${JSON.stringify(v)}`);
  return v;
}

/** A counter or a gauge: one number per label set, summed across replicas. */
abstract class ValueMetric extends UserMetric {
  readonly #series = new Map<string, { labels: Labels; value: number }>();

  /** Adds `v` to the series of `labels` (or sets it, `replace`). */
  protected add(labels: LabelValues | undefined, v: number, replace: boolean): void {
    const { key, labels: l } = this.key(labels);
    const s = this.#series.get(key);
    if (s) s.value = replace ? v : s.value + v;
    else this.#series.set(key, { labels: l, value: v });
  }

  reset(): void {
    this.#series.clear();
  }

  figure(extra?: Labels): Figure {
    const values: FigureValue[] = [...this.#series.values()].map((s) => ({ labels: extra ? { ...s.labels, ...extra } : s.labels, value: s.value }));
    return { name: this.name, help: this.help, type: this.type, values, aggregator: "sum" };
  }
}

/**
 * A counter: `inc(labels?, value?)`.
 *
 * @example
 * const hits = new serve.metrics.Counter({ name: "cache_hits_total", help: "Cache hits", labelNames: ["kind"] });
 * hits.inc({ kind: "model" });
 */
export class Counter extends ValueMetric {
  constructor(options: MetricOptions) {
    const found = UserMetric.existing("counter", options);
    super("counter", options);
    if (found) return found as Counter;
    this.register();
  }

  inc(labels?: LabelValues | number, value?: number): void {
    const a = args(labels, value, 1);
    const v = checkValue(this.name, a.value);
    if (v < 0) throw new TypeError(`metric "${this.name}": a counter cannot go down (inc(${v}))`);
    this.add(a.labels, v, false);
  }
}

/**
 * A gauge: `set(labels?, value)`, `inc(labels?, value?)`, `dec(labels?, value?)`.
 *
 * @example
 * const depth = new serve.metrics.Gauge({ name: "work_queue_depth", help: "Items waiting" });
 * depth.set(3);
 */
export class Gauge extends ValueMetric {
  constructor(options: MetricOptions) {
    const found = UserMetric.existing("gauge", options);
    super("gauge", options);
    if (found) return found as Gauge;
    this.register();
  }

  set(labels: LabelValues | number, value?: number): void {
    const a = args(labels, value, undefined);
    this.add(a.labels, checkValue(this.name, a.value), true);
  }

  inc(labels?: LabelValues | number, value?: number): void {
    const a = args(labels, value, 1);
    this.add(a.labels, checkValue(this.name, a.value), false);
  }

  dec(labels?: LabelValues | number, value?: number): void {
    const a = args(labels, value, 1);
    this.add(a.labels, -checkValue(this.name, a.value), false);
  }
}

/**
 * A histogram: `observe(labels?, value)`.
 *
 * @example
 * const size = new serve.metrics.Histogram({ name: "input_tokens", help: "Tokens per input", buckets: [16, 64, 256, 1024] });
 * size.observe(120);
 */
export class Histogram extends UserMetric {
  readonly buckets: readonly number[];
  readonly #series = new Map<string, HistogramSeries>();

  constructor(options: HistogramOptions) {
    const found = UserMetric.existing("histogram", options);
    super("histogram", options);
    const buckets = options.buckets ?? DEFAULT_BUCKETS;
    if (!Array.isArray(buckets) || buckets.length === 0 || buckets.some((b, i) => typeof b !== "number" || !Number.isFinite(b) || (i > 0 && b <= buckets[i - 1]!))) {
      throw new TypeError(`serve.metrics.Histogram: buckets must be increasing finite numbers, got ${JSON.stringify(buckets)}`);
    }
    this.buckets = [...buckets];
    if (found) return found as Histogram;
    this.register();
  }

  observe(labels: LabelValues | number, value?: number): void {
    const a = args(labels, value, undefined);
    const v = checkValue(this.name, a.value);
    const { key, labels: l } = this.key(a.labels);
    let s = this.#series.get(key);
    if (!s) this.#series.set(key, (s = new HistogramSeries(l, this.buckets)));
    s.observe(v);
  }

  reset(): void {
    this.#series.clear();
  }

  figure(extra?: Labels): Figure {
    const values = [...this.#series.values()].flatMap((s) => s.values(this.name, extra));
    return { name: this.name, help: this.help, type: "histogram", values, aggregator: "sum" };
  }
}
