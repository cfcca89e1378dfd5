/**
 * What the SDK tells the runtime about work done inside a replica (for metrics): no-ops until
 * the replica host plugs its counters in. The SDK knows no metric; it only reports events.
 */
export const observers = {
  /** A multiplexed model finished loading after `ms` milliseconds. */
  modelLoaded(_ms: number): void {},
  /** A `serve.multiplexed` getter was called. */
  modelRequested(): void {},
  /** A batch ran with `size` items. */
  batchRan(_size: number): void {},
};
