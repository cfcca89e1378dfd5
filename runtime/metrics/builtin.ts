/**
 * Every built-in metric of API.md section 9, made once per thread (each Worker loads its own
 * copy of this module). Two registries: `threadMetrics` holds what any thread counts as a caller
 * or as the main thread (HTTP, handles, queues, the controller's view); `replicaMetrics` holds
 * what a replica counts about itself, and carries `application`, `deployment` and `replica` as
 * default labels (set once when the replica starts), so its series need no per-request labels.
 */
import client from "prom-client";
import { reserveMetricNames, userMetricsRegistry } from "../../sdk/metrics.ts";
import { TallyCounter, TallyHistogram } from "./tally.ts";

/** Ray Serve's latency buckets, in milliseconds. */
export const LATENCY_BUCKETS_MS = [1, 2, 5, 10, 20, 50, 100, 200, 300, 400, 500, 1000, 2000, 5000, 10000, 60000, 120000, 300000, 600000] as const;
/** Items per batch run. */
export const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024] as const;

export const threadMetrics = new client.Registry();
export const replicaMetrics = new client.Registry();

/** A gauge whose values are read from `read()` at scrape time (nothing on the hot path). */
function liveGauge(registry: client.Registry, name: string, help: string, labelNames: string[]) {
  const holder: { read: (() => Iterable<[Record<string, string>, number]>) | undefined } = { read: undefined };
  new client.Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    collect(this: client.Gauge) {
      this.reset();
      if (!holder.read) return;
      for (const [labels, v] of holder.read()) this.set(labels, v);
    },
  });
  return holder;
}

const HTTP = ["application", "route", "method", "status_code"];

export const http = {
  requests: new TallyCounter("tsserve_num_http_requests_total", "HTTP requests answered by the proxy", HTTP, threadMetrics),
  errors: new TallyCounter("tsserve_num_http_error_requests_total", "HTTP requests answered with a status >= 400", ["application", "route", "method", "error_code"], threadMetrics),
  latency: new TallyHistogram("tsserve_http_request_latency_ms", "HTTP request latency at the proxy, in milliseconds", HTTP, LATENCY_BUCKETS_MS, threadMetrics),
  ongoing: liveGauge(threadMetrics, "tsserve_num_ongoing_http_requests", "HTTP requests in flight at the proxy", []),
};

export const handles = {
  requests: new TallyCounter("tsserve_handle_request_counter_total", "Calls made through deployment handles", ["application", "deployment"], threadMetrics),
  queued: liveGauge(threadMetrics, "tsserve_deployment_queued_queries", "Requests waiting in callers' queues for a replica", ["application", "deployment"]),
};

export const controller = {
  starts: new client.Counter({ name: "tsserve_deployment_replica_starts_total", help: "Replicas started", labelNames: ["application", "deployment"], registers: [threadMetrics] }),
  healthy: liveGauge(threadMetrics, "tsserve_deployment_replica_healthy", "1 if the replica is running and healthy, else 0", ["application", "deployment", "replica"]),
  target: liveGauge(threadMetrics, "tsserve_deployment_target_replicas", "Replicas the deployment wants", ["application", "deployment"]),
};

/** Made only on the main thread: the process's memory is one figure, not one per thread. */
export function processMetrics(): void {
  if (threadMetrics.getSingleMetric("process_resident_memory_bytes")) return;
  new client.Gauge({
    name: "process_resident_memory_bytes",
    help: "Resident memory size in bytes",
    registers: [threadMetrics],
    collect(this: client.Gauge) {
      this.set(process.memoryUsage().rss);
    },
  });
}

export const replica = {
  requests: new TallyCounter("tsserve_deployment_request_counter_total", "Calls finished at a replica", ["route"], replicaMetrics),
  errors: new TallyCounter("tsserve_deployment_error_counter_total", "Calls that threw at a replica", ["route"], replicaMetrics),
  latency: new TallyHistogram("tsserve_deployment_processing_latency_ms", "Time a replica took to process a call, in milliseconds", ["route"], LATENCY_BUCKETS_MS, replicaMetrics),
  processing: liveGauge(replicaMetrics, "tsserve_replica_processing_queries", "Calls in flight at the replica", []),
  modelLoads: new TallyCounter("tsserve_multiplexed_models_load_counter_total", "Multiplexed models loaded", [], replicaMetrics),
  modelUnloads: new TallyCounter("tsserve_multiplexed_models_unload_counter_total", "Multiplexed models unloaded", [], replicaMetrics),
  modelLoadLatency: new TallyHistogram("tsserve_multiplexed_model_load_latency_ms", "Time to load a multiplexed model, in milliseconds", [], LATENCY_BUCKETS_MS, replicaMetrics),
  models: liveGauge(replicaMetrics, "tsserve_num_multiplexed_models", "Multiplexed models loaded or loading at the replica", []),
  getModelRequests: new TallyCounter("tsserve_multiplexed_get_model_requests_counter_total", "Calls of a serve.multiplexed getter", [], replicaMetrics),
  batchSize: new TallyHistogram("tsserve_batch_size", "Items per batch run", [], BATCH_SIZE_BUCKETS, replicaMetrics),
};

reserveMetricNames([...threadMetrics.getMetricsAsArray(), ...replicaMetrics.getMetricsAsArray()].map((m) => (m as unknown as { name: string }).name).concat("process_resident_memory_bytes"));

/**
 * This thread's figures: the caller side, and, in a replica, its own and its user metrics
 * (user metrics are replica code's: the main thread imports the same modules, but its copies
 * count nothing and would only add unlabelled zeros).
 */
export async function threadFigures(inReplica: boolean): Promise<client.MetricObjectWithValues<client.MetricValue<string>>[]> {
  const parts = [threadMetrics.getMetricsAsJSON()];
  if (inReplica) parts.push(replicaMetrics.getMetricsAsJSON(), userMetricsRegistry().getMetricsAsJSON());
  return (await Promise.all(parts)).flat() as client.MetricObjectWithValues<client.MetricValue<string>>[];
}
