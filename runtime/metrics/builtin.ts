/**
 * Every built-in metric of API.md section 9, made once per thread (each Worker loads its own
 * copy of this module). `threadMetrics` are what any thread counts as a caller or as the main
 * thread (HTTP, handles, queues, the controller's view); `replicaMetrics` are what a replica
 * counts about itself, labelled at scrape time with its `application`, `deployment` and
 * `replica` (set once when it starts), so its series need no per-request labels.
 */
import type { Figure, Labels } from "../../sdk/figures.ts";
import { reserveMetricNames, userFigures } from "../../sdk/metrics.ts";
import { type FigureSource, LiveGauge, TallyCounter, TallyHistogram } from "./tally.ts";

/** Ray Serve's latency buckets, in milliseconds. */
export const LATENCY_BUCKETS_MS = [1, 2, 5, 10, 20, 50, 100, 200, 300, 400, 500, 1000, 2000, 5000, 10000, 60000, 120000, 300000, 600000] as const;
/** Items per batch run. */
export const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024] as const;

export const http = {
  requests: new TallyCounter("tsserve_num_http_requests_total", "HTTP requests answered by the proxy"),
  errors: new TallyCounter("tsserve_num_http_error_requests_total", "HTTP requests answered with a status >= 400"),
  latency: new TallyHistogram("tsserve_http_request_latency_ms", "HTTP request latency at the proxy, in milliseconds", LATENCY_BUCKETS_MS),
  ongoing: new LiveGauge("tsserve_num_ongoing_http_requests", "HTTP requests in flight at the proxy"),
  websockets: new LiveGauge("tsserve_num_ongoing_websockets", "WebSockets open through the proxy"),
};

export const handles = {
  requests: new TallyCounter("tsserve_handle_request_counter_total", "Calls made through deployment handles"),
  queued: new LiveGauge("tsserve_deployment_queued_queries", "Requests waiting in callers' queues for a replica"),
};

export const controller = {
  starts: new TallyCounter("tsserve_deployment_replica_starts_total", "Replicas started"),
  healthy: new LiveGauge("tsserve_deployment_replica_healthy", "1 if the replica is running and healthy, else 0"),
  target: new LiveGauge("tsserve_deployment_target_replicas", "Replicas the deployment wants"),
};

/** The process's memory is one figure, not one per thread: only the main thread reports it. */
export const memory = new LiveGauge("process_resident_memory_bytes", "Resident memory size in bytes");

export const replica = {
  requests: new TallyCounter("tsserve_deployment_request_counter_total", "Calls finished at a replica"),
  errors: new TallyCounter("tsserve_deployment_error_counter_total", "Calls that threw at a replica"),
  latency: new TallyHistogram("tsserve_deployment_processing_latency_ms", "Time a replica took to process a call, in milliseconds", LATENCY_BUCKETS_MS),
  processing: new LiveGauge("tsserve_replica_processing_queries", "Calls in flight at the replica"),
  modelLoads: new TallyCounter("tsserve_multiplexed_models_load_counter_total", "Multiplexed models loaded"),
  modelUnloads: new TallyCounter("tsserve_multiplexed_models_unload_counter_total", "Multiplexed models unloaded"),
  modelLoadLatency: new TallyHistogram("tsserve_multiplexed_model_load_latency_ms", "Time to load a multiplexed model, in milliseconds", LATENCY_BUCKETS_MS),
  models: new LiveGauge("tsserve_num_multiplexed_models", "Multiplexed models loaded or loading at the replica"),
  getModelRequests: new TallyCounter("tsserve_multiplexed_get_model_requests_counter_total", "Calls of a serve.multiplexed getter"),
  batchSize: new TallyHistogram("tsserve_batch_size", "Items per batch run", BATCH_SIZE_BUCKETS),
};

const threadMetrics: FigureSource[] = [...Object.values(http), ...Object.values(handles), ...Object.values(controller)];
const replicaMetrics: FigureSource[] = Object.values(replica);

reserveMetricNames([...threadMetrics, ...replicaMetrics, memory].map((m) => m.name));

/** Set in a replica when it starts: its series carry these labels. */
let replicaLabels: Labels | undefined;

export function labelReplica(labels: Labels): void {
  replicaLabels = labels;
}

/**
 * This thread's figures: the caller side, and in a replica its own and its user metrics (user
 * metrics are replica code's: the main thread imports the same modules, but its copies count
 * nothing). The main thread adds its memory.
 */
export function threadFigures(inReplica: boolean): Figure[] {
  const out = threadMetrics.map((m) => m.figure());
  if (inReplica) out.push(...replicaMetrics.map((m) => m.figure(replicaLabels)), ...userFigures(replicaLabels));
  else out.push(memory.figure());
  return out;
}
