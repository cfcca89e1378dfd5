/**
 * User metrics (API.md section 9): `serve.metrics.Counter`, `Gauge` and `Histogram`, used with
 * prom-client's call forms anywhere in replica code. Each thread keeps them in its own
 * registry; inside a replica the runtime gives that registry the replica's `application`,
 * `deployment` and `replica` labels, and every scrape merges all threads' registries.
 */
import client from "prom-client";

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

const RUNTIME_LABELS = ["application", "deployment", "replica"];
const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const DEFAULT_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 300, 400, 500, 1000, 2000, 5000, 10000, 60000, 120000, 300000, 600000];

const registry = new client.Registry();
const reserved = new Set<string>();

/** This thread's user metrics (the runtime reads them at scrape time and labels them in a replica). */
export function userMetricsRegistry(): client.Registry {
  return registry;
}

/** Names of built-in metrics: a user metric may not take one (the runtime declares them). */
export function reserveMetricNames(names: Iterable<string>): void {
  for (const n of names) reserved.add(n);
}

/**
 * Checks the options; returns the metric of that name if this thread made one already with the
 * same type and labels (a class field made once per replica, or a module loaded twice, gets
 * the same series back instead of an error).
 */
function existing(kind: "counter" | "gauge" | "histogram", options: MetricOptions): client.Metric | undefined {
  const where = `serve.metrics.${kind[0]!.toUpperCase()}${kind.slice(1)}`;
  if (options === null || typeof options !== "object") throw new TypeError(`${where}: options must be an object { name, help, labelNames? }`);
  const { name, help, labelNames = [] } = options;
  if (typeof name !== "string" || !NAME.test(name)) throw new TypeError(`${where}: name must be letters, digits, "_" or ":" and not start with a digit, got ${JSON.stringify(name)}`);
  if (typeof help !== "string" || !help) throw new TypeError(`${where}: help must be a non-empty string describing metric "${name}"`);
  if (reserved.has(name)) throw new TypeError(`${where}: "${name}" is the name of a built-in tsserve metric; choose another name`);
  if (!Array.isArray(labelNames) || labelNames.some((l) => typeof l !== "string" || !NAME.test(l))) {
    throw new TypeError(`${where}: labelNames must be an array of label names, got ${JSON.stringify(labelNames)}`);
  }
  const runtimeLabel = labelNames.find((l) => RUNTIME_LABELS.includes(l));
  if (runtimeLabel) throw new TypeError(`${where}: label "${runtimeLabel}" is added by tsserve to every user metric; remove it from labelNames`);
  const found = registry.getSingleMetric(name) as (client.Metric & { type?: string; labelNames?: string[] }) | undefined;
  if (!found) return undefined;
  if (found.type !== kind) throw new TypeError(`${where}: metric "${name}" already exists as a ${found.type}; a name has one type`);
  if (JSON.stringify(found.labelNames ?? []) !== JSON.stringify(labelNames)) {
    throw new TypeError(`${where}: metric "${name}" already exists with labelNames ${JSON.stringify(found.labelNames)}, not ${JSON.stringify(labelNames)}`);
  }
  return found;
}

/**
 * A counter: `inc(labels?, value?)`.
 *
 * @example
 * const hits = new serve.metrics.Counter({ name: "cache_hits_total", help: "Cache hits", labelNames: ["kind"] });
 * hits.inc({ kind: "model" });
 */
export class Counter<T extends string = string> extends client.Counter<T> {
  constructor(options: MetricOptions) {
    const found = existing("counter", options);
    if (found) return found as unknown as Counter<T>;
    super({ name: options.name, help: options.help, labelNames: (options.labelNames ?? []) as T[], registers: [registry] });
  }
}

/**
 * A gauge: `set(labels?, value)`, `inc`, `dec`.
 *
 * @example
 * const depth = new serve.metrics.Gauge({ name: "work_queue_depth", help: "Items waiting" });
 * depth.set(3);
 */
export class Gauge<T extends string = string> extends client.Gauge<T> {
  constructor(options: MetricOptions) {
    const found = existing("gauge", options);
    if (found) return found as unknown as Gauge<T>;
    super({ name: options.name, help: options.help, labelNames: (options.labelNames ?? []) as T[], registers: [registry] });
  }
}

/**
 * A histogram: `observe(labels?, value)`.
 *
 * @example
 * const size = new serve.metrics.Histogram({ name: "input_tokens", help: "Tokens per input", buckets: [16, 64, 256, 1024] });
 * size.observe(120);
 */
export class Histogram<T extends string = string> extends client.Histogram<T> {
  constructor(options: HistogramOptions) {
    const found = existing("histogram", options);
    if (found) return found as unknown as Histogram<T>;
    const buckets = options.buckets ?? DEFAULT_BUCKETS;
    if (!Array.isArray(buckets) || buckets.length === 0 || buckets.some((b, i) => typeof b !== "number" || !Number.isFinite(b) || (i > 0 && b <= buckets[i - 1]!))) {
      throw new TypeError(`serve.metrics.Histogram: buckets must be increasing finite numbers, got ${JSON.stringify(buckets)}`);
    }
    super({ name: options.name, help: options.help, labelNames: (options.labelNames ?? []) as T[], buckets, registers: [registry] });
  }
}
