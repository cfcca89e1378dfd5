/** The `serve` object: what user code calls. */
import { type Application, type Deployment, type Target, defineDeployment } from "./deployment.ts";
import { getMultiplexedModelId, getReplicaContext, getRequestContext } from "./context.ts";
import { type DeploymentHandle, makeHandle } from "./handle.ts";
import { ingress } from "./ingress.ts";
import type { DeploymentOptions } from "./options.ts";
import { checkRoutePrefix } from "./routes.ts";
import { type RunOptions, type StartOptions, runtime, runtimeIfAny } from "./runtime.ts";
import type { ServeStatus } from "./status.ts";
import { ServeError } from "./errors.ts";
import { transfer } from "./transfer.ts";
import { multiplexed } from "./multiplexed.ts";
import { batch } from "./batch.ts";
import { Counter, Gauge, Histogram } from "./metrics.ts";

type Decorator = <T extends Target>(target: T, context?: ClassDecoratorContext | unknown) => T & Deployment<T>;

function isDecoratorContext(value: unknown): boolean {
  return typeof value === "object" && value !== null && "kind" in value && (value as { kind: unknown }).kind === "class";
}

/**
 * Defines a deployment from a class or a function.
 *
 * @example
 * export const Adder = serve.deployment(class Adder {
 *   constructor(private increment: number) {}
 *   call(val: number) { return val + this.increment; }
 * }, { numReplicas: 2 });
 */
function deployment<T extends Target>(target: T, options?: DeploymentOptions): Deployment<T>;
/** As a TC39 class decorator: `@serve.deployment({ numReplicas: 2 }) class Model {}`. */
function deployment(options?: DeploymentOptions): Decorator;
function deployment(targetOrOptions?: Target | DeploymentOptions, options?: unknown): unknown {
  if (typeof targetOrOptions === "function") {
    return defineDeployment(targetOrOptions, isDecoratorContext(options) ? {} : (options as DeploymentOptions | undefined));
  }
  const given = targetOrOptions ?? {};
  // Defined now, so the defining call site is the user's decorator expression.
  const define = (target: Target) => defineDeployment(target, given);
  return (target: Target) => define(target);
}

async function run<T extends Target>(app: Application<T>, options: RunOptions = {}): Promise<DeploymentHandle<T>> {
  const name = options.name ?? "default";
  if (typeof name !== "string" || !name) throw new TypeError(`serve.run(): name must be a non-empty string, got ${JSON.stringify(name)}`);
  const routePrefix = checkRoutePrefix(options.routePrefix === undefined ? "/" : options.routePrefix);
  const rt = await runtime();
  const target = await rt.run(app, { name, routePrefix });
  return makeHandle<T>(target);
}

/** The `serve` namespace, as in Ray Serve (camelCase, milliseconds). */
export const serve = {
  deployment,

  /** Deploys `app` (replacing an app of the same name) and resolves to its ingress handle once every replica runs. */
  run,

  /** Starts the runtime and HTTP proxy; resolves to `{ httpUrl }`. Port 0 picks a free port. */
  async start(options: StartOptions = {}): Promise<{ httpUrl: string }> {
    return (await runtime()).start(options);
  },

  /** Removes an application (no error if it does not exist). */
  async delete(name: string): Promise<void> {
    await runtimeIfAny()?.delete(name);
  },

  /** Removes every application and stops the proxy. */
  async shutdown(): Promise<void> {
    await runtimeIfAny()?.shutdown();
  },

  /** Applications, deployments and replica states. */
  async status(): Promise<ServeStatus> {
    const rt = runtimeIfAny();
    return rt ? rt.status() : { proxy: { url: null, status: "NOT_STARTED" }, applications: {} };
  },

  /** A handle to the ingress of a running application; throws if there is none of that name. */
  getAppHandle<T = any>(name: string): DeploymentHandle<T> {
    const rt = runtimeIfAny();
    if (!rt) throw new ServeError(`no application named "${name}" is running (tsserve has not started)`);
    return makeHandle<T>(rt.target(name));
  },

  /** A handle to a deployment of a running application (default: the only or "default" app). */
  getDeploymentHandle<T = any>(deploymentName: string, appName?: string): DeploymentHandle<T> {
    const rt = runtimeIfAny();
    if (!rt) throw new ServeError(`no deployment named "${deploymentName}" is running (tsserve has not started)`);
    return makeHandle<T>(rt.target(appName ?? "", deploymentName));
  },

  /**
   * `await serve.metrics()`: every thread's metrics (proxy, routers, every replica), merged, in
   * the Prometheus text format, as `GET /metrics` on the admin API answers. Also the user
   * metric classes: `new serve.metrics.Counter({ name, help, labelNames })`, `Gauge`, `Histogram`.
   */
  metrics: Object.assign(
    async (): Promise<string> => {
      const rt = runtimeIfAny();
      if (!rt) throw new ServeError("serve.metrics(): tsserve has not started; call serve.start() or serve.run() first");
      return rt.metrics();
    },
    { Counter, Gauge, Histogram },
  ),

  getRequestContext,
  getReplicaContext,
  getMultiplexedModelId,
  ingress,
  transfer,
  multiplexed,
  batch,
};
