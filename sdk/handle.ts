/** `DeploymentHandle<T>`: a typed way to call another deployment's methods. */
import type { Deployment, Target } from "./deployment.ts";
import { DeploymentResponse, DeploymentResponseGenerator, type ResponseWatch } from "./response.ts";
import { type CallOptions, type HandleTarget, runtimeIfAny } from "./runtime.ts";
import { didYouMean } from "./suggest.ts";

type TargetOf<T> = T extends Deployment<infer C> ? C : T;
type InstanceOf<C> = C extends abstract new (...args: any) => infer I
  ? I
  : C extends (...args: infer A) => infer R
    ? { call(...args: A): R }
    : C;
type Reserved = "then" | "toJSON" | "remote" | "options" | "constructor";
type MethodKeys<I> = {
  [K in keyof I]-?: K extends string ? (K extends Reserved ? never : I[K] extends (...args: any[]) => any ? K : never) : never;
}[keyof I];

/** The items a streaming method yields. */
export type StreamItem<R> =
  Awaited<R> extends AsyncIterable<infer Y> ? Y : Awaited<R> extends Iterable<infer Y> ? Y : never;

/** A parameter may be the value or a response that will resolve to it (chaining). */
type RemoteArgs<A extends unknown[]> = { [K in keyof A]: A[K] | DeploymentResponse<A[K]> };

type Remote<F, S extends boolean> = F extends (...args: infer A) => infer R
  ? (...args: RemoteArgs<A>) => S extends true ? DeploymentResponseGenerator<StreamItem<R>> : DeploymentResponse<Awaited<R>>
  : never;

/** `handle.options(...)`. */
export interface HandleOptions extends CallOptions {}

declare const HANDLE: unique symbol;

/** Marks a type as a DeploymentHandle (compile time only), so `bind()` can accept an Application in its place. */
export interface HandleBrand {
  readonly [HANDLE]: "DeploymentHandle";
}

/**
 * A handle to a deployment. `T` is the `Deployment` (or the class's instance type).
 * `handle.remote(...)` calls `call`; `handle.m.remote(...)` calls method `m`.
 *
 * @example
 * constructor(private adder: DeploymentHandle<typeof Adder>) {}
 * const sum = await this.adder.remote(1);
 */
export type DeploymentHandle<T = any, S extends boolean = false> = 0 extends 1 & T ? AnyHandle<S> : TypedHandle<T, S>;

/** A handle whose deployment type is not known: any method, any arguments. Typed handles are assignable to it. */
export type AnyHandle<S extends boolean = false> = {
  readonly [method: string]: any;
  remote(...args: any[]): S extends true ? DeploymentResponseGenerator<any> : DeploymentResponse<any>;
  options<O extends HandleOptions>(options: O): AnyHandle<O["stream"] extends true ? true : O["stream"] extends false ? false : S>;
  readonly deploymentName: string;
  readonly appName: string;
} & HandleBrand;

type TypedHandle<T, S extends boolean> = {
  [K in MethodKeys<InstanceOf<TargetOf<T>>>]: { remote: Remote<InstanceOf<TargetOf<T>>[K], S> };
} & {
  /** Calls the `call` method (or `options({ methodName })`'s). */
  remote: "call" extends MethodKeys<InstanceOf<TargetOf<T>>>
    ? Remote<InstanceOf<TargetOf<T>>["call" & keyof InstanceOf<TargetOf<T>>], S>
    : (...args: unknown[]) => S extends true ? DeploymentResponseGenerator<unknown> : DeploymentResponse<unknown>;
  /** A handle with other call options, sharing this one's router and queue. */
  options<O extends HandleOptions>(options: O): DeploymentHandle<T, O["stream"] extends true ? true : O["stream"] extends false ? false : S>;
  readonly deploymentName: string;
  readonly appName: string;
} & HandleBrand;

const SKIP = new Set<PropertyKey>(["then", "toJSON", "constructor", "asymmetricMatch", "$$typeof", "nodeType", "inspect"]);
const OPTION_KEYS = new Set(["methodName", "stream", "multiplexedModelId"]);

/** Makes a handle for `target`. Calls go through whichever runtime this thread has. */
export function makeHandle<T>(target: HandleTarget, options: CallOptions = {}): DeploymentHandle<T> {
  const send = (method: string, args: unknown[], watch?: ResponseWatch): unknown => {
    const rt = runtimeIfAny();
    if (!rt) throw new Error(`handle to ${target.deploymentName}: tsserve is not running (it was shut down)`);
    return options.stream
      ? new DeploymentResponseGenerator(rt.stream(target, options, method, args))
      : new DeploymentResponse(rt.call(target, options, method, args), watch);
  };
  const methods = new Map<string, MethodEntry>();
  const base = {
    remote: (...args: unknown[]) => send(options.methodName ?? "call", args),
    options: (next: HandleOptions) => makeHandle<T>(target, { ...options, ...checkHandleOptions(next) }),
    deploymentName: target.deploymentName,
    appName: target.appName,
    [Symbol.for("nodejs.util.inspect.custom")]: () => `DeploymentHandle(${target.appName}/${target.deploymentName})`,
  };
  return new Proxy(base, {
    get(obj, key) {
      if (key in obj) return (obj as any)[key];
      if (typeof key === "symbol" || SKIP.has(key)) return undefined;
      let m = methods.get(key);
      if (!m) methods.set(key, (m = methodEntry(key, send)));
      return m;
    },
  }) as unknown as DeploymentHandle<T>;
}

/**
 * `handle.m`. Until a call of `m` succeeds, we keep where `m` was first used: the replica's
 * "has no method" error only has the replica's frames and the port's, so we add that line.
 * One stack capture per handle and method, none once the method is known to exist.
 */
interface MethodEntry {
  remote: (...args: unknown[]) => unknown;
}

type Send = (method: string, args: unknown[], watch?: ResponseWatch) => unknown;

function methodEntry(method: string, send: Send): MethodEntry {
  let firstUse: Error | undefined = new Error();
  const watch: ResponseWatch = {
    fulfilled: () => void (firstUse = undefined),
    rejected: (err) => (firstUse ? atCaller(err, method, firstUse) : err),
  };
  return { remote: (...args: unknown[]) => send(method, args, firstUse ? watch : undefined) };
}

/** tsserve's own frames (and Node's, and the binary's), which say nothing about the caller's code. */
const ROOT = new URL("../", import.meta.url).pathname;
const ownFrame = (line: string): boolean => ["sdk/", "runtime/"].some((d) => line.includes(ROOT + d)) || /\(node:|\(\/\$bunfs\/|at node:|at \/\$bunfs\//.test(line);

/** A "has no method" error with the method meant (when one is close) and the caller's frames (where `method` was used) put first. */
function atCaller(err: unknown, method: string, firstUse: Error): unknown {
  if (!(err instanceof Error) || err.name !== "ServeError" || !err.message.includes(`no method "${method}"`)) return err;
  const available = /available methods: (.*)$/.exec(err.message)?.[1]?.split(", ") ?? [];
  err.message = err.message.replace(`no method "${method}"`, `no method "${method}"${didYouMean(method, available)}`);
  const frames = (firstUse.stack ?? "").split("\n").filter((l) => /^\s+at /.test(l) && !ownFrame(l));
  if (!frames.length) return err;
  const rest = (err.stack ?? "").split("\n").filter((l) => /^\s+(at |---)/.test(l));
  err.stack = [`${err.name}: ${err.message}`, ...frames, "    --- in the replica ---", ...rest].join("\n");
  return err;
}

function checkHandleOptions(o: HandleOptions): HandleOptions {
  if (o === null || typeof o !== "object") throw new TypeError(`handle.options() takes an object, got ${String(o)}`);
  for (const k of Object.keys(o)) {
    if (!OPTION_KEYS.has(k)) throw new TypeError(`unknown handle option "${k}"; known options: methodName, stream, multiplexedModelId`);
  }
  if (o.methodName !== undefined && (typeof o.methodName !== "string" || !o.methodName)) {
    throw new TypeError(`methodName must be a non-empty string, got ${String(o.methodName)}`);
  }
  if (o.stream !== undefined && typeof o.stream !== "boolean") throw new TypeError(`stream must be a boolean, got ${String(o.stream)}`);
  if (o.multiplexedModelId !== undefined && (typeof o.multiplexedModelId !== "string" || !o.multiplexedModelId)) {
    throw new TypeError(`multiplexedModelId must be a non-empty string, got ${JSON.stringify(o.multiplexedModelId)}`);
  }
  return o;
}
