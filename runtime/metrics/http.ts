/**
 * The proxy's HTTP metrics. Series are found through nested Maps keyed by the strings the
 * request already has (application, route, method) and the status number, so counting a
 * request builds no string; a new combination makes its series once.
 */
import { http } from "./builtin.ts";
import type { CounterSeries, HistogramSeries } from "./tally.ts";

interface StatusSeries {
  requests: CounterSeries;
  latency: HistogramSeries;
  /** Status >= 400 only. */
  errors: CounterSeries | undefined;
}

type ByStatus = Map<number, StatusSeries>;
const tree = new Map<string, Map<string, Map<string, ByStatus>>>();
let ongoing = 0;
http.ongoing.read = () => [[{}, ongoing]];

function byStatus(application: string, route: string, method: string): ByStatus {
  let routes = tree.get(application);
  if (!routes) tree.set(application, (routes = new Map()));
  let methods = routes.get(route);
  if (!methods) routes.set(route, (methods = new Map()));
  let statuses = methods.get(method);
  if (!statuses) methods.set(method, (statuses = new Map()));
  return statuses;
}

/** An HTTP request came in (not the proxy's own `/-/` routes). */
export function httpStarted(): void {
  ongoing++;
}

/** It was answered: `route` is the matched prefix (`""` for a 404), `ms` its latency. */
export function httpFinished(application: string, route: string, method: string, status: number, ms: number): void {
  ongoing--;
  const statuses = byStatus(application, route, method);
  let s = statuses.get(status);
  if (!s) {
    const code = String(status);
    s = {
      requests: http.requests.series({ application, route, method, status_code: code }),
      latency: http.latency.series({ application, route, method, status_code: code }),
      errors: status >= 400 ? http.errors.series({ application, route, method, error_code: code }) : undefined,
    };
    statuses.set(status, s);
  }
  s.requests.value++;
  if (s.errors) s.errors.value++;
  s.latency.observe(ms);
}

/** Per application: requests, errors and latency bucket counts since start (the dashboard's charts read these). */
export function httpTotalsByApp(): Map<string, { requests: number; errors: number; counts: Float64Array; bounds: readonly number[] }> {
  const out = new Map<string, { requests: number; errors: number; counts: Float64Array; bounds: readonly number[] }>();
  for (const [application, routes] of tree) {
    if (!application) continue;
    const bounds = http.latency.buckets;
    const t = { requests: 0, errors: 0, counts: new Float64Array(bounds.length + 1), bounds };
    for (const methods of routes.values()) {
      for (const statuses of methods.values()) {
        for (const s of statuses.values()) {
          t.requests += s.requests.value;
          if (s.errors) t.errors += s.errors.value;
          for (let i = 0; i < t.counts.length; i++) t.counts[i]! += s.latency.counts[i]!;
        }
      }
    }
    out.set(application, t);
  }
  return out;
}
