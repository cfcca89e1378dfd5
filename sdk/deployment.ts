/** `serve.deployment()`, `Deployment` and `Application`: defining and binding deployments. */
import { ServeError } from "./errors.ts";
import { callerLocation } from "./location.ts";
import { type DeploymentOptions, validateOptions } from "./options.ts";
import { registerTarget, type Source } from "./registry.ts";
import type { HandleBrand } from "./handle.ts";

/** A class or a function that a deployment serves. */
export type Target = (abstract new (...args: any[]) => any) | ((...args: any[]) => any);

type BindArg<X> = X extends HandleBrand
  ? Application<any>
  : X extends (...args: any[]) => any
    ? X
    : X extends readonly unknown[]
      ? { [K in keyof X]: BindArg<X[K]> }
      : X extends object
        ? { [K in keyof X]: BindArg<X[K]> }
        : X;

/** What `bind()` takes: the constructor's parameters, with an `Application` wherever a handle goes. */
export type BindArgs<T> = T extends abstract new (...args: infer A) => any ? { [K in keyof A]: BindArg<A[K]> } : [];

const STATE = Symbol("tsserve.deployment");

interface DeploymentState {
  target: Target;
  name: string;
  options: DeploymentOptions;
  source: Source;
}

/**
 * A deployment: a class or function that runs as replicas. `bind(...)` makes it an
 * `Application`; `options(...)` makes a new deployment with options overridden. It is a
 * function object (so it works as a class decorator's result) that throws when called.
 */
export interface Deployment<T extends Target = Target> {
  /** The deployment name: `options.name`, else the target's name. */
  readonly deploymentName: string;
  /** The options given in code (defaults are not filled in). */
  readonly deploymentOptions: Readonly<DeploymentOptions>;
  /** The class or function this deployment serves. */
  readonly target: T;
  /** Binds constructor arguments, making an `Application` to run or to pass to another bind. */
  bind(...args: BindArgs<T>): Application<T>;
  /** A new deployment with these options overridden. */
  options(options: DeploymentOptions): Deployment<T>;
}

class DeploymentBase {
  declare [STATE]: DeploymentState;

  get deploymentName(): string {
    return this[STATE].name;
  }

  get deploymentOptions(): Readonly<DeploymentOptions> {
    return this[STATE].options;
  }

  get target(): Target {
    return this[STATE].target;
  }

  get source(): Source {
    return this[STATE].source;
  }

  bind(...args: unknown[]): Application {
    return new Application(this as unknown as Deployment, args);
  }

  options(options: DeploymentOptions): Deployment {
    validateOptions(options);
    const s = this[STATE];
    const merged = { ...s.options, ...options };
    const name = options.name ?? s.name;
    checkReconfigurable(s.target, name, merged);
    return makeDeployment({ ...s, name, options: merged });
  }
}

/** True for what `serve.deployment()` returned. */
export function isDeployment(value: unknown): value is Deployment {
  return typeof value === "function" && STATE in value;
}

/** Internal view of a deployment for the graph builder. */
export function deploymentState(d: Deployment): Readonly<DeploymentState> {
  return (d as unknown as DeploymentBase)[STATE];
}

function makeDeployment(state: DeploymentState): Deployment {
  const d = function deployment() {
    throw new ServeError(
      `${state.name} is a deployment, not a ${isClass(state.target) ? "class" : "function"}: ` +
        `use ${state.name}.bind(...) to make an application and serve.run() it`,
    );
  };
  Object.setPrototypeOf(d, DeploymentBase.prototype);
  Object.defineProperty(d, "name", { value: state.name });
  (d as unknown as DeploymentBase)[STATE] = state;
  return d as unknown as Deployment;
}

/**
 * Whether `target` can take a userConfig: it has `reconfigure(userConfig)`, as a method (own
 * or inherited) or as a field (`reconfigure = (c) => ...`, which only its source shows).
 */
export function canReconfigure(target: Target): boolean {
  if (typeof (target as { reconfigure?: unknown }).reconfigure === "function") return true;
  if (!isClass(target)) return false;
  for (let p = target.prototype; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    if (typeof Object.getOwnPropertyDescriptor(p, "reconfigure")?.value === "function") return true;
  }
  return /\breconfigure\b/.test(Function.prototype.toString.call(target));
}

/**
 * `userConfig` is delivered through `reconfigure(userConfig)`, so a target without one is
 * refused when the deployment is defined rather than when its first replica starts.
 */
function checkReconfigurable(target: Target, name: string, options: DeploymentOptions): void {
  if (options.userConfig === undefined || canReconfigure(target)) return;
  if (isClass(target)) {
    throw new TypeError(`${name} has userConfig set but no reconfigure(userConfig) method; add reconfigure(userConfig) to the class, or remove userConfig`);
  }
  throw new TypeError(`${name} is a function deployment, which cannot take userConfig (it has no reconfigure(userConfig) method); make it a class with reconfigure(userConfig), or remove userConfig`);
}

/** True when `target` is a class (its instance methods serve requests). */
export function isClass(target: Target): boolean {
  return /^class[\s{]/.test(Function.prototype.toString.call(target));
}

/** Defines a deployment; see `serve.deployment`. */
export function defineDeployment(target: Target, options: DeploymentOptions = {}): Deployment {
  if (typeof target !== "function") {
    throw new TypeError(`serve.deployment() takes a class or a function, got ${target === null ? "null" : typeof target}`);
  }
  validateOptions(options);
  const name = options.name ?? target.name;
  if (!name) {
    throw new TypeError("serve.deployment(): the target has no name; give the class or function a name, or pass { name: \"...\" }");
  }
  checkReconfigurable(target, name, options);
  const loc = callerLocation();
  if (!loc) throw new ServeError(`serve.deployment(${name}): cannot tell which module defines it; define deployments in a module file`);
  const source = registerTarget(loc, target);
  return makeDeployment({ target, name, options: { ...options }, source });
}

/**
 * A node of the application graph: a deployment with its constructor arguments bound.
 * Pass it to `serve.run()`, or to another deployment's `bind()` to give that one a handle.
 */
export class Application<T extends Target = Target> {
  /** @internal */
  readonly deployment: Deployment<T>;
  /** @internal */
  readonly args: readonly unknown[];

  /** @internal */
  constructor(deployment: Deployment<T>, args: unknown[]) {
    this.deployment = deployment;
    this.args = args;
    checkClonable(args, `${deployment.deploymentName}.bind()`);
  }
}

/**
 * Throws when an argument cannot travel to a replica (structured clone), naming it.
 * Applications are fine anywhere an argument walk reaches them: they become handles.
 */
export function checkClonable(args: readonly unknown[], where: string): void {
  args.forEach((arg, i) => {
    walk(arg, `argument ${i}`, (value, path) => {
      if (typeof value === "function" || typeof value === "symbol") {
        throw new TypeError(
          `${where}: ${path} is a ${typeof value}, which cannot be sent to a replica; constructor arguments must be structured-clonable (or Applications)`,
        );
      }
      if (value !== null && typeof value === "object" && !isPlainContainer(value)) {
        try {
          structuredClone(value);
        } catch (err) {
          throw new TypeError(
            `${where}: ${path} (${value.constructor?.name ?? "object"}) cannot be sent to a replica: ${(err as Error).message}; constructor arguments must be structured-clonable (or Applications)`,
          );
        }
        return false;
      }
      return true;
    });
  });
}

/** Plain objects and arrays: walked into, looking for Applications. */
export function isPlainContainer(value: object): boolean {
  if (Array.isArray(value)) return true;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Visits values depth-first through arrays and plain objects; `visit` returns false to stop descending. */
function walk(value: unknown, path: string, visit: (value: unknown, path: string) => boolean): void {
  if (value instanceof Application) return;
  if (!visit(value, path)) return;
  if (value === null || typeof value !== "object") return;
  if (Array.isArray(value)) value.forEach((v, i) => walk(v, `${path}[${i}]`, visit));
  else for (const [k, v] of Object.entries(value)) walk(v, `${path}.${k}`, visit);
}
