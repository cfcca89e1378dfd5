/**
 * A replica's own metrics: calls finished, errors and processing time by route, calls in flight,
 * multiplexed models and batch sizes. The hot path is `callFinished`: a Map lookup by route
 * (a string the call carries already), two additions and one bucket search.
 */
import { multiplexStats } from "../../sdk/multiplexed.ts";
import { observers } from "../../sdk/observe.ts";
import type { CounterSeries, HistogramSeries } from "./tally.ts";
import { labelReplica, replica } from "./builtin.ts";
import { switches } from "./switch.ts";

interface RouteSeries {
  requests: CounterSeries;
  errors: CounterSeries;
  latency: HistogramSeries;
}

const byRoute = new Map<string, RouteSeries>();

function seriesFor(route: string): RouteSeries {
  let s = byRoute.get(route);
  if (!s) {
    const labels = { route };
    s = { requests: replica.requests.series(labels), errors: replica.errors.series(labels), latency: replica.latency.series(labels) };
    byRoute.set(route, s);
  }
  return s;
}

/** A call ended at this replica (answered, failed or streamed to its end); `startedAt` is its performance.now() on arrival. */
export function callFinished(route: string | undefined, ok: boolean, startedAt: number): void {
  if (!switches.counting) return;
  const s = seriesFor(route ?? "");
  s.requests.value++;
  if (!ok) s.errors.value++;
  s.latency.observe(performance.now() - startedAt);
}

/** Labels this thread's series as the replica's, and reads its live figures at scrape time. */
export function startReplicaMetrics(labels: { application: string; deployment: string; replica: string }, ongoing: () => number): void {
  labelReplica(labels);
  replica.processing.read = () => [[{}, ongoing()]];
  replica.models.read = () => [[{}, multiplexStats().loaded.length]];
  const loads = replica.modelLoads.series({});
  const unloads = replica.modelUnloads.series({});
  const gets = replica.getModelRequests.series({});
  replica.modelLoads.refresh = () => {
    const s = multiplexStats();
    loads.value = s.loads;
    unloads.value = s.unloads;
  };
  replica.modelUnloads.refresh = replica.modelLoads.refresh;
  let modelLatency: HistogramSeries | undefined;
  let batchSize: HistogramSeries | undefined;
  observers.modelLoaded = (ms) => (modelLatency ??= replica.modelLoadLatency.series({})).observe(ms);
  observers.modelRequested = () => gets.value++;
  observers.batchRan = (n) => (batchSize ??= replica.batchSize.series({})).observe(n);
}
