/**
 * The declarative config (API.md section 7): its types and the one place it is checked.
 * Every message names the file and the key path, e.g.
 * `app.yaml: applications[0].deployments[1].numReplicas must be an integer >= 1 or "auto", got 0`.
 */
import { OPTION_NAMES } from "../../sdk/options.ts";
import { ServeError } from "../../sdk/errors.ts";
import { type DeploymentOptions, validateOptions } from "../../sdk/options.ts";
import { checkRoutePrefix } from "../../sdk/routes.ts";
import { didYouMean } from "../../sdk/suggest.ts";
import type { LoggingSettings } from "../../sdk/runtime.ts";
import { validateLogging } from "../../sdk/options.ts";

export interface HttpConfig {
  host?: string;
  port?: number;
  requestTimeoutMs?: number | null;
  /** Largest WebSocket message a client may send, in bytes. */
  maxWebSocketMessageBytes?: number;
}

export interface AdminConfig {
  host?: string;
  port?: number;
}

/** Overrides of the options a deployment sets in code, picked by deployment name. */
export interface DeploymentConfig extends Omit<DeploymentOptions, "name"> {
  name: string;
}

export interface AppConfig {
  name: string;
  routePrefix: string | null;
  /** `path/to/module.ts[:export]`; relative paths are relative to the config file. */
  importPath: string;
  /** Passed to a builder export `(args) => Application`. */
  args: Record<string, unknown>;
  deployments: DeploymentConfig[];
}

export interface ServeConfig {
  http?: HttpConfig;
  admin?: AdminConfig;
  /** `{ encoding: TEXT | JSON, logLevel, enableAccessLog }`, applied in place. */
  logging?: LoggingSettings;
  applications: AppConfig[];
}

/** A config that failed its checks; the message names the file and the key path. */
export class ConfigError extends ServeError {
  override name = "ConfigError";
  constructor(
    message: string,
    /** The message without the file and key path, when another error was wrapped. */
    readonly reason?: string,
  ) {
    super(message);
  }
}

const TOP_KEYS = ["http", "admin", "logging", "applications"];
const HTTP_KEYS = ["host", "port", "requestTimeoutMs", "maxWebSocketMessageBytes"];
const ADMIN_KEYS = ["host", "port"];
const APP_KEYS = ["name", "routePrefix", "importPath", "args", "deployments"];
/** The deployment options of sdk/options.ts that a config may override (`name` picks the deployment). */
const DEPLOYMENT_KEYS = [...OPTION_NAMES];

/** The default application name, as for `serve.run()`. */
export const DEFAULT_APP_NAME = "default";

const show = (v: unknown): string => {
  if (v === undefined) return "nothing";
  if (typeof v === "string") return JSON.stringify(v);
  if (Array.isArray(v)) return "a list";
  if (v !== null && typeof v === "object") return "a mapping";
  return String(v);
};

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

class Checker {
  constructor(readonly file: string) {}

  fail(path: string, message: string): never {
    throw new ConfigError(`${this.file}: ${path ? `${path} ` : ""}${message}`);
  }

  object(value: unknown, path: string, keys: string[]): Record<string, unknown> {
    if (!isObject(value)) this.fail(path, `must be a mapping of ${keys.join(", ")}, got ${show(value)}`);
    for (const key of Object.keys(value)) {
      if (!keys.includes(key)) this.fail(join(path, key), `is not a known key${didYouMean(key, keys)}; allowed keys${path ? ` in ${path}` : ""}: ${keys.join(", ")}`);
    }
    return value;
  }

  string(value: unknown, path: string): string {
    if (typeof value !== "string" || value.length === 0) this.fail(path, `must be a non-empty string, got ${show(value)}`);
    return value;
  }

  port(value: unknown, path: string): number {
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 65535) {
      this.fail(path, `must be an integer from 0 to 65535, got ${show(value)}`);
    }
    return value;
  }
}

const join = (path: string, key: string | number): string => (typeof key === "number" ? `${path}[${key}]` : path ? `${path}.${key}` : key);

/**
 * Checks a parsed config, fills in defaults (`name: default`, `routePrefix: /`, `args: {}`,
 * `deployments: []`) and returns it; throws ConfigError naming `file` and the key path.
 */
export function validateConfig(value: unknown, file: string): ServeConfig {
  const c: Checker = new Checker(file);
  const top = c.object(value, "", TOP_KEYS);
  const out: ServeConfig = { applications: [] };
  if (top.http !== undefined && top.http !== null) {
    const h = c.object(top.http, "http", HTTP_KEYS);
    out.http = {};
    if (h.host !== undefined) out.http.host = c.string(h.host, "http.host");
    if (h.port !== undefined) out.http.port = c.port(h.port, "http.port");
    if (h.requestTimeoutMs !== undefined) {
      const t = h.requestTimeoutMs;
      if (t !== null && !(typeof t === "number" && Number.isFinite(t) && t > 0)) {
        c.fail("http.requestTimeoutMs", `must be a number of milliseconds > 0, or null for no timeout, got ${show(t)}`);
      }
      out.http.requestTimeoutMs = t as number | null;
    }
    if (h.maxWebSocketMessageBytes !== undefined) {
      const m = h.maxWebSocketMessageBytes;
      if (typeof m !== "number" || !Number.isInteger(m) || m < 1) c.fail("http.maxWebSocketMessageBytes", `must be an integer >= 1 (bytes), got ${show(m)}`);
      out.http.maxWebSocketMessageBytes = m as number;
    }
  }
  if (top.admin !== undefined && top.admin !== null) {
    const a = c.object(top.admin, "admin", ADMIN_KEYS);
    out.admin = {};
    if (a.host !== undefined) out.admin.host = c.string(a.host, "admin.host");
    if (a.port !== undefined) out.admin.port = c.port(a.port, "admin.port");
  }
  if (top.logging !== undefined && top.logging !== null) {
    try {
      validateLogging(top.logging, "logging", ["encoding"]);
      const e = (top.logging as { encoding?: unknown }).encoding;
      if (e !== undefined && !(typeof e === "string" && ["TEXT", "JSON"].includes(e.toUpperCase()))) throw new TypeError(`logging.encoding must be TEXT or JSON, got ${show(e)}`);
    } catch (err) {
      c.fail("", (err as Error).message);
    }
    out.logging = top.logging as LoggingSettings;
  }
  const applications = top.applications;
  if (!Array.isArray(applications)) {
    c.fail("applications", applications === undefined ? "is required: a list of applications, each with at least importPath" : `must be a list, got ${show(applications)}`);
  }
  const names = new Map<string, number>();
  const prefixes = new Map<string, number>();
  applications.forEach((raw, i) => {
    const app = validateApp(c, raw, join("applications", i));
    const sameName = names.get(app.name);
    if (sameName !== undefined) {
      c.fail(`applications[${i}].name`, `"${app.name}" is already the name of applications[${sameName}]; give every application its own name`);
    }
    names.set(app.name, i);
    if (app.routePrefix !== null) {
      const samePrefix = prefixes.get(app.routePrefix);
      if (samePrefix !== undefined) {
        c.fail(`applications[${i}].routePrefix`, `"${app.routePrefix}" is already the route prefix of applications[${samePrefix}] ("${out.applications[samePrefix]!.name}"); two applications cannot share a prefix`);
      }
      prefixes.set(app.routePrefix, i);
    }
    out.applications.push(app);
  });
  return out;
}

/** Whether `name` may name an application: no "/", "#" or whitespace (they separate names in keys and replica ids). */
export const isAppName = (name: string): boolean => name !== "" && !/[/#\s]/.test(name);

function validateApp(c: Checker, raw: unknown, path: string): AppConfig {
  const a = c.object(raw, path, APP_KEYS);
  const name = a.name === undefined ? DEFAULT_APP_NAME : c.string(a.name, join(path, "name"));
  if (!isAppName(name)) c.fail(join(path, "name"), `must not contain "/", "#" or spaces, got ${show(name)}`);
  let routePrefix: string | null = "/";
  if (a.routePrefix !== undefined) {
    try {
      routePrefix = checkRoutePrefix(a.routePrefix);
    } catch (err) {
      c.fail(join(path, "routePrefix"), (err as Error).message.replace(/^routePrefix /, ""));
    }
  }
  if (a.importPath === undefined) c.fail(join(path, "importPath"), "is required: the module and export to serve, e.g. ./app.ts:app");
  const importPath = c.string(a.importPath, join(path, "importPath"));
  let args: Record<string, unknown> = {};
  if (a.args !== undefined && a.args !== null) {
    if (!isObject(a.args)) c.fail(join(path, "args"), `must be a mapping (passed to a builder function), got ${show(a.args)}`);
    args = a.args;
  }
  const deployments: DeploymentConfig[] = [];
  if (a.deployments !== undefined && a.deployments !== null) {
    if (!Array.isArray(a.deployments)) c.fail(join(path, "deployments"), `must be a list, got ${show(a.deployments)}`);
    const seen = new Map<string, number>();
    a.deployments.forEach((d, j) => {
      const dpath = join(join(path, "deployments"), j);
      const dep = validateDeployment(c, d, dpath);
      const dup = seen.get(dep.name);
      if (dup !== undefined) c.fail(join(dpath, "name"), `"${dep.name}" is already overridden by ${join(join(path, "deployments"), dup)}; list each deployment once`);
      seen.set(dep.name, j);
      deployments.push(dep);
    });
  }
  return { name, routePrefix, importPath, args, deployments };
}

function validateDeployment(c: Checker, raw: unknown, path: string): DeploymentConfig {
  const d = c.object(raw, path, DEPLOYMENT_KEYS);
  if (d.name === undefined) c.fail(join(path, "name"), "is required: the name of the deployment whose options to override");
  const name = c.string(d.name, join(path, "name"));
  const { name: _, ...options } = d;
  try {
    validateOptions(options as DeploymentOptions);
  } catch (err) {
    c.fail("", optionMessage(path, (err as Error).message));
  }
  return { name, ...(options as Omit<DeploymentOptions, "name">) };
}

/** The SDK's messages mostly start with the option: `numReplicas must be ...` reads `<path>.numReplicas must be ...`. */
export function optionMessage(path: string, message: string): string {
  const first = /^[A-Za-z]+/.exec(message)?.[0];
  return first && DEPLOYMENT_KEYS.includes(first) ? `${path}.${message}` : `${path}: ${message}`;
}

/** Splits `path/to/app.ts:export` into the module and the export (undefined when not given). */
export function splitImportPath(importPath: string): { file: string; exportName: string | undefined } {
  const m = /^(.*?):([A-Za-z_$][\w$]*)$/.exec(importPath);
  return m ? { file: m[1]!, exportName: m[2] } : { file: importPath, exportName: undefined };
}

/** True when `target` names a config file rather than a module. */
export function isConfigFile(target: string): boolean {
  return /\.(ya?ml|json)$/i.test(target);
}
