/**
 * Whether this thread counts metrics. On by default; TSSERVE_METRICS=0 turns counting off
 * (the bench measures the hot path with and without it). The main thread reads the variable
 * when the runtime starts and hands the answer to each replica it starts.
 */
export const switches = { counting: true };

export function countingFromEnv(): boolean {
  return !["0", "false", "off"].includes(process.env.TSSERVE_METRICS?.toLowerCase() ?? "");
}
