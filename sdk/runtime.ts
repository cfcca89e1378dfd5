/**
 * The one narrow interface between the SDK and whatever runs applications. The main thread
 * gets the full runtime (controller, proxy); inside a replica the replica host plugs in its
 * own, so the same `serve` object does the right thing in both places.
 */
import type { Application } from "./deployment.ts";
import type { ServeStatus } from "./status.ts";

/** A sent request, as the runtime tracks it. */
export interface Call<T = unknown> {
  /** Settles with the value (asking for it to travel here if it was kept upstream). */
  result(): Promise<T>;
  cancel(): void;
}

/** A sent streaming request. */
export interface StreamCall<T = unknown> {
  next(): Promise<IteratorResult<T>>;
  /** Stops the producer. `quietly`: later reads end the stream instead of rejecting. */
  cancel(quietly?: boolean): void;
}

/** Which deployment a handle calls. */
export interface HandleTarget {
  appName: string;
  deploymentName: string;
}

/** Per-handle call options (`handle.options(...)`). */
export interface CallOptions {
  methodName?: string;
  stream?: boolean;
  multiplexedModelId?: string;
}

export interface HttpOptions {
  host?: string;
  port?: number;
  requestTimeoutMs?: number | null;
  /** Largest WebSocket message a client may send (default 16 MiB); a larger one closes the socket with 1009. */
  maxWebSocketMessageBytes?: number;
}

/** The instance's logging (API.md section 9), as `logging:` in a config file. */
export interface LoggingSettings {
  /** `TEXT` (default) or `JSON`: one JSON object per line. */
  encoding?: "TEXT" | "JSON" | "text" | "json";
  /** `debug | info | warn | error` (default `info`). */
  logLevel?: "debug" | "info" | "warn" | "error";
  /** One access log record per HTTP request (default true). */
  enableAccessLog?: boolean;
}

export interface StartOptions {
  http?: HttpOptions;
  logging?: LoggingSettings;
}

export interface RunOptions {
  name?: string;
  routePrefix?: string | null;
}

export interface Runtime {
  start(options: StartOptions): Promise<{ httpUrl: string }>;
  run(app: Application, options: Required<RunOptions>): Promise<HandleTarget>;
  delete(name: string): Promise<void>;
  shutdown(): Promise<void>;
  status(): Promise<ServeStatus>;
  /** Every thread's metrics, merged, in the Prometheus text format. */
  metrics(): Promise<string>;
  /** Synchronous: throws naming the app or deployment that does not exist. */
  target(appName: string, deploymentName?: string): HandleTarget;
  call(target: HandleTarget, options: CallOptions, method: string, args: unknown[]): Call;
  stream(target: HandleTarget, options: CallOptions, method: string, args: unknown[]): StreamCall;
}

let current: Runtime | undefined;
let load: (() => Promise<Runtime>) | undefined;

/** Plugs a runtime in (the replica host does, before importing user code). */
export function installRuntime(runtime: Runtime | undefined): void {
  current = runtime;
}

/** Where the main-thread runtime comes from when first needed (set by the package entry). */
export function setRuntimeLoader(loader: () => Promise<Runtime>): void {
  load = loader;
}

/** The runtime if one is running, without starting one. */
export function runtimeIfAny(): Runtime | undefined {
  return current;
}

/** The runtime, loading the main-thread one on first use. */
export async function runtime(): Promise<Runtime> {
  if (current) return current;
  if (!load) throw new Error("tsserve: no runtime is available in this thread");
  current ??= await load();
  return current;
}
