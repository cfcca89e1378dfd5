/**
 * tsserve: what user code imports as "tsserve". This file only re-exports, and tells the
 * SDK where the main-thread runtime lives; inside a replica the replica host has plugged in
 * its own runtime before any user code runs, so that import never happens there.
 */
import { setRuntimeLoader } from "./runtime.ts";

setRuntimeLoader(async () => (await import("../runtime/main.ts")).mainRuntime());

export { serve } from "./serve.ts";
export { Application, type Deployment, type BindArgs, type Target } from "./deployment.ts";
export type { DeploymentHandle, HandleOptions, StreamItem } from "./handle.ts";
export { DeploymentResponse, DeploymentResponseGenerator } from "./response.ts";
export type { DeploymentOptions, AutoscalingConfig, LoggingConfig, LogLevel } from "./options.ts";
export type { RequestContext, ReplicaContext } from "./context.ts";
export type { RunOptions, StartOptions, HttpOptions, LoggingSettings } from "./runtime.ts";
export type { MultiplexedOptions } from "./multiplexed.ts";
export type { MetricOptions, HistogramOptions } from "./metrics.ts";
export type { BatchOptions, Batched, StreamingBatched } from "./batch.ts";
export type * from "./status.ts";
export {
  ServeError,
  BackPressureError,
  RequestCancelledError,
  DeploymentUnavailableError,
  ReplicaDiedError,
} from "./errors.ts";
