/** Deployment options: their types, defaults and the one place they are checked. */
import { didYouMean } from "./suggest.ts";

/** Autoscaling settings (API.md section 1). Durations are milliseconds. */
export interface AutoscalingConfig {
  minReplicas?: number;
  maxReplicas?: number;
  initialReplicas?: number;
  targetOngoingRequests?: number;
  upscaleDelayMs?: number;
  downscaleDelayMs?: number;
  downscaleToZeroDelayMs?: number;
  lookBackPeriodMs?: number;
  upscalingFactor?: number;
  downscalingFactor?: number;
}

/** Log levels, least severe first. */
export type LogLevel = "debug" | "info" | "warn" | "error";
export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

/** A deployment's logging (API.md section 9); unset fields take the instance's. */
export interface LoggingConfig {
  /** Records below this level are dropped (default `info`). */
  logLevel?: LogLevel;
  /** One access log record per HTTP request to this app's ingress (default true). */
  enableAccessLog?: boolean;
}

/** What `serve.deployment(target, options)` and `Deployment.options()` accept. */
export interface DeploymentOptions {
  name?: string;
  numReplicas?: number | "auto";
  maxOngoingRequests?: number;
  maxQueuedRequests?: number;
  userConfig?: unknown;
  autoscalingConfig?: AutoscalingConfig;
  healthCheckPeriodMs?: number;
  healthCheckTimeoutMs?: number;
  gracefulShutdownWaitLoopMs?: number;
  gracefulShutdownTimeoutMs?: number;
  /** `{ logLevel, enableAccessLog }`, changeable in place. */
  loggingConfig?: LoggingConfig;
  /** In a cluster, at most this many of the deployment's replicas on one node (default: no limit). */
  maxReplicasPerNode?: number;
}

/** Options with every default filled in, as the runtime uses them. */
export interface ResolvedOptions {
  numReplicas: number | "auto";
  maxOngoingRequests: number;
  maxQueuedRequests: number;
  userConfig?: unknown;
  autoscalingConfig?: AutoscalingConfig;
  healthCheckPeriodMs: number;
  healthCheckTimeoutMs: number;
  gracefulShutdownWaitLoopMs: number;
  gracefulShutdownTimeoutMs: number;
  loggingConfig?: LoggingConfig;
  maxReplicasPerNode?: number;
}

export const DEFAULT_OPTIONS: ResolvedOptions = {
  numReplicas: 1,
  maxOngoingRequests: 5,
  maxQueuedRequests: -1,
  healthCheckPeriodMs: 10_000,
  healthCheckTimeoutMs: 30_000,
  gracefulShutdownWaitLoopMs: 2_000,
  gracefulShutdownTimeoutMs: 20_000,
};

/** Every deployment option's name (config files may override each). */
export const OPTION_NAMES: ReadonlySet<string> = new Set<string>([
  "name",
  "numReplicas",
  "maxOngoingRequests",
  "maxQueuedRequests",
  "userConfig",
  "autoscalingConfig",
  "healthCheckPeriodMs",
  "healthCheckTimeoutMs",
  "gracefulShutdownWaitLoopMs",
  "gracefulShutdownTimeoutMs",
  "loggingConfig",
  "maxReplicasPerNode",
]);

const AUTOSCALING_NAMES = new Set<string>([
  "minReplicas",
  "maxReplicas",
  "initialReplicas",
  "targetOngoingRequests",
  "upscaleDelayMs",
  "downscaleDelayMs",
  "downscaleToZeroDelayMs",
  "lookBackPeriodMs",
  "upscalingFactor",
  "downscalingFactor",
]);

const isInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v);
/** A value as an error message quotes it: strings in quotes, objects as JSON, anything else as written. */
export const show = (v: unknown): string => {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "function") return "a function";
  if (v === null || typeof v !== "object") return String(v);
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
};

function fail(option: string, allowed: string, got: unknown): never {
  throw new TypeError(`${option} must be ${allowed}, got ${show(got)}`);
}

/**
 * Checks options given by a user; throws a TypeError naming the option and what it allows.
 * `where` names the deployment in messages when known.
 */
export function validateOptions(options: DeploymentOptions): void {
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new TypeError(`deployment options must be an object, got ${show(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_NAMES.has(key)) {
      throw new TypeError(`unknown deployment option "${key}"${didYouMean(key, OPTION_NAMES)}; known options: ${[...OPTION_NAMES].join(", ")}`);
    }
  }
  const o = options as Record<string, unknown>;
  if (o.name !== undefined && (typeof o.name !== "string" || o.name.length === 0 || /[#/\s]/.test(o.name))) {
    fail("name", "a non-empty string without spaces, '#' or '/'", o.name);
  }
  if (o.numReplicas !== undefined && o.numReplicas !== "auto" && !(isInt(o.numReplicas) && o.numReplicas >= 1)) {
    fail("numReplicas", 'an integer >= 1 or "auto"', o.numReplicas);
  }
  if (isInt(o.numReplicas) && o.autoscalingConfig !== undefined) {
    throw new TypeError(
      `numReplicas (${o.numReplicas}) cannot be set together with autoscalingConfig; use numReplicas: "auto" or drop one of them`,
    );
  }
  if (o.maxOngoingRequests !== undefined && !(isInt(o.maxOngoingRequests) && o.maxOngoingRequests >= 1)) {
    fail("maxOngoingRequests", "an integer >= 1", o.maxOngoingRequests);
  }
  if (o.maxQueuedRequests !== undefined && !(isInt(o.maxQueuedRequests) && (o.maxQueuedRequests >= 1 || o.maxQueuedRequests === -1))) {
    fail("maxQueuedRequests", "an integer >= 1, or -1 for no limit", o.maxQueuedRequests);
  }
  if (o.maxReplicasPerNode !== undefined && !(isInt(o.maxReplicasPerNode) && o.maxReplicasPerNode >= 1)) {
    fail("maxReplicasPerNode", "an integer >= 1", o.maxReplicasPerNode);
  }
  if (o.userConfig !== undefined) checkJson("userConfig", o.userConfig);
  for (const key of ["healthCheckPeriodMs", "healthCheckTimeoutMs", "gracefulShutdownWaitLoopMs", "gracefulShutdownTimeoutMs"]) {
    if (o[key] !== undefined && !(typeof o[key] === "number" && Number.isFinite(o[key]) && (o[key] as number) > 0)) {
      fail(key, "a number of milliseconds > 0", o[key]);
    }
  }
  if (o.autoscalingConfig !== undefined) validateAutoscaling(o.autoscalingConfig);
  if (o.loggingConfig !== undefined) validateLogging(o.loggingConfig, "loggingConfig");
}

/** Checks `{ logLevel?, enableAccessLog? }` (a deployment's loggingConfig, or part of the instance's). */
export function validateLogging(value: unknown, path: string, extraKeys: string[] = []): void {
  if (value === null || typeof value !== "object" || Array.isArray(value)) fail(path, "an object { logLevel?, enableAccessLog? }", value);
  const l = value as Record<string, unknown>;
  const known = ["logLevel", "enableAccessLog", ...extraKeys];
  for (const key of Object.keys(l)) {
    if (!known.includes(key)) throw new TypeError(`unknown ${path} option "${key}"; known options: ${known.join(", ")}`);
  }
  if (l.logLevel !== undefined && !LOG_LEVELS.includes(l.logLevel as LogLevel)) fail(`${path}.logLevel`, `one of ${LOG_LEVELS.join(", ")}`, l.logLevel);
  if (l.enableAccessLog !== undefined && typeof l.enableAccessLog !== "boolean") fail(`${path}.enableAccessLog`, "true or false", l.enableAccessLog);
}

function validateAutoscaling(value: unknown): void {
  if (value === null || typeof value !== "object" || Array.isArray(value)) fail("autoscalingConfig", "an object", value);
  const a = value as Record<string, unknown>;
  for (const key of Object.keys(a)) {
    if (!AUTOSCALING_NAMES.has(key)) {
      throw new TypeError(`unknown autoscalingConfig option "${key}"${didYouMean(key, AUTOSCALING_NAMES)}; known options: ${[...AUTOSCALING_NAMES].join(", ")}`);
    }
  }
  for (const key of ["minReplicas", "maxReplicas", "initialReplicas"]) {
    if (a[key] !== undefined && !(isInt(a[key]) && (a[key] as number) >= 0)) fail(`autoscalingConfig.${key}`, "an integer >= 0", a[key]);
  }
  if (a.maxReplicas !== undefined && (a.maxReplicas as number) < 1) fail("autoscalingConfig.maxReplicas", "an integer >= 1", a.maxReplicas);
  for (const key of ["targetOngoingRequests", "upscalingFactor", "downscalingFactor"]) {
    if (a[key] !== undefined && !(typeof a[key] === "number" && (a[key] as number) > 0)) fail(`autoscalingConfig.${key}`, "a number > 0", a[key]);
  }
  for (const key of ["upscaleDelayMs", "downscaleDelayMs", "downscaleToZeroDelayMs", "lookBackPeriodMs"]) {
    if (a[key] !== undefined && !(typeof a[key] === "number" && (a[key] as number) >= 0)) fail(`autoscalingConfig.${key}`, "a number of milliseconds >= 0", a[key]);
  }
  const min = (a.minReplicas as number | undefined) ?? 1;
  const max = (a.maxReplicas as number | undefined) ?? Math.max(1, min);
  const initial = a.initialReplicas as number | undefined;
  if (min > max) throw new TypeError(`autoscalingConfig: minReplicas (${min}) must be <= maxReplicas (${max})`);
  if (initial !== undefined && (initial < min || initial > max)) {
    throw new TypeError(`autoscalingConfig: initialReplicas (${initial}) must be between minReplicas (${min}) and maxReplicas (${max})`);
  }
}

function checkJson(option: string, value: unknown, path = option): void {
  if (value === null || typeof value === "string" || typeof value === "boolean") return;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) fail(path, "JSON (finite numbers only)", value);
    return;
  }
  if (Array.isArray(value)) return value.forEach((v, i) => checkJson(option, v, `${path}[${i}]`));
  if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [k, v] of Object.entries(value)) checkJson(option, v, `${path}.${k}`);
    return;
  }
  fail(path, "a JSON value (null, boolean, number, string, array or plain object)", value);
}

/** Fills in defaults, and turns `numReplicas: "auto"` into its autoscaling defaults. */
export function resolveOptions(options: DeploymentOptions): ResolvedOptions {
  const { name: _name, ...rest } = options;
  const resolved: ResolvedOptions = { ...DEFAULT_OPTIONS, ...rest } as ResolvedOptions;
  if (resolved.numReplicas === "auto" && !resolved.autoscalingConfig) {
    resolved.autoscalingConfig = { minReplicas: 1, maxReplicas: 100, targetOngoingRequests: 2 };
  } else if (resolved.autoscalingConfig && resolved.numReplicas !== "auto") {
    resolved.numReplicas = "auto";
  }
  return resolved;
}
