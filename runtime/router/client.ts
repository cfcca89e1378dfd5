/**
 * A thread's calling side: its ports to replicas, its routers (one per deployment and
 * caller), and `call()`, which every handle in the thread goes through. The main thread has
 * one (for the proxy and serve.run handles); so does every replica that holds handles.
 */
import { ReplicaDiedError, ServeError } from "../../sdk/errors.ts";
import { requestScope } from "../../sdk/context.ts";
import type { Call, CallOptions, HandleTarget } from "../../sdk/runtime.ts";
import { CALL, DeploymentResponse, DeploymentResponseGenerator } from "../../sdk/response.ts";
import { isPlainContainer } from "../../sdk/deployment.ts";
import { OutgoingCall } from "../wire/call.ts";
import { ReplicaLink } from "../wire/link.ts";
import { type CallContext, type CallMsg, type HttpRequestData, K } from "../wire/protocol.ts";
import { OutgoingStream } from "../wire/stream.ts";
import type { PortLike } from "../wire/port.ts";
import { scopeOf } from "../wire/scope.ts";
import { Router, type RouterLimits } from "./router.ts";
import { handleCalled } from "../metrics/caller.ts";

/** Where a thread asks for routes; the controller answers through `setReplicas` and `addLink`. */
export interface RouteSource {
  subscribe(target: HandleTarget): void;
  connect(replicaId: string): void;
  /** A request waits for a deployment that has no replicas: an autoscaler at zero should hear of it now. */
  demand?(target: HandleTarget): void;
}

/** "app/deployment": deployment names cannot hold "/". */
export const targetKey = (t: HandleTarget): string => `${t.appName}/${t.deploymentName}`;

/** Which caller a router serves: handles, or the HTTP proxy (each has its own queue). */
export type Lane = "handle" | "proxy";

let requestSeq = 0;
const requestPrefix = Math.random().toString(36).slice(2, 10);
/** A request id for a call made outside any request. */
export const newRequestId = (): string => `${requestPrefix}-${(++requestSeq).toString(36)}`;

/** The context a handle call carries: empty fields are left out (they cost bytes on every call). */
function callContext(requestId: string | undefined, modelId: string | undefined, route?: string): CallContext {
  const ctx: CallContext = {};
  if (requestId) ctx.requestId = requestId;
  // The HTTP route travels downstream: metrics and logs of every deployment it reaches name it.
  if (route) ctx.route = route;
  if (modelId) ctx.modelId = modelId;
  return ctx;
}


export class Client {
  readonly #links = new Map<string, ReplicaLink>();
  readonly #linkWaiters = new Map<string, { resolve(link: ReplicaLink): void; reject(err: Error): void }[]>();
  readonly #routers = new Map<string, Router>();
  readonly #replicaSets = new Map<string, { ids: string[]; limits: RouterLimits }>();

  constructor(
    /** This thread's name: "main", or the replica id. */
    readonly name: string,
    readonly routes: RouteSource,
  ) {}

  /** A port to replica `replicaId` (given by the controller). */
  addLink(replicaId: string, port: PortLike, remote = false): void {
    this.#links.get(replicaId)?.die(new ReplicaDiedError(`replica ${replicaId} was reconnected`));
    const link = new ReplicaLink(replicaId, port);
    link.remote = remote;
    link.models = new Set(this.#models.get(replicaId) ?? []);
    this.#links.set(replicaId, link);
    for (const w of this.#linkWaiters.get(replicaId) ?? []) w.resolve(link);
    this.#linkWaiters.delete(replicaId);
    for (const [key, set] of this.#replicaSets) if (set.ids.includes(replicaId)) this.#route(key);
  }

  /**
   * The link to `replicaId`, asking the controller for one if this thread has none yet; the
   * promise rejects if the replica dies first.
   */
  link(replicaId: string): ReplicaLink | Promise<ReplicaLink> {
    const link = this.#links.get(replicaId);
    if (link && !link.dead) return link;
    return new Promise((resolve, reject) => {
      const waiters = this.#linkWaiters.get(replicaId);
      if (waiters) return waiters.push({ resolve, reject });
      this.#linkWaiters.set(replicaId, [{ resolve, reject }]);
      this.routes.connect(replicaId);
    });
  }

  /** The live link to `replicaId` this thread has now, if any (asks for none). */
  existingLink(replicaId: string): ReplicaLink | undefined {
    const link = this.#links.get(replicaId);
    return link && !link.dead ? link : undefined;
  }

  /** Ids waiting for answers on this thread's links (for tests that check nothing leaks). */
  get waiting(): number {
    let n = 0;
    for (const link of this.#links.values()) n += link.waiting;
    return n;
  }

  /** The replicas of a deployment, and the limits to route it by. */
  setReplicas(key: string, ids: string[], limits: RouterLimits): void {
    this.#flushFor(key, ids);
    this.#replicaSets.set(key, { ids, limits });
    this.#route(key);
  }

  /**
   * A replica dropped from a deployment's set (`keep` holds those that stay) is stopped next,
   * by a message on another port: what this thread still holds for it (a batch waiting for the
   * loop's turn) must leave first, or it could arrive after the replica drained and closed.
   */
  #flushFor(key: string, keep: string[]): void {
    for (const id of this.#replicaSets.get(key)?.ids ?? []) if (!keep.includes(id)) this.#links.get(id)?.flush();
  }

  #route(key: string): void {
    const set = this.#replicaSets.get(key);
    if (!set) return;
    const links = set.ids.map((id) => this.#links.get(id)).filter((l): l is ReplicaLink => !!l && !l.dead);
    for (const lane of ["handle", "proxy"] as const) this.#routers.get(`${lane}:${key}`)?.update(links, set.limits);
  }

  /** The multiplexed models a replica holds changed. */
  setModels(replicaId: string, ids: string[]): void {
    const link = this.#links.get(replicaId);
    if (link) link.models = new Set(ids);
    this.#models.set(replicaId, ids);
  }

  readonly #models = new Map<string, string[]>();

  /** The deployment is gone or failed: its queued and future requests fail with `err`. */
  unavailable(key: string, err: Error): void {
    this.#flushFor(key, []);
    this.#replicaSets.delete(key);
    for (const lane of ["handle", "proxy"] as const) this.#routers.get(`${lane}:${key}`)?.close(err);
  }

  /** A replica died: what it had in flight fails with `ReplicaDiedError`. */
  replicaDied(replicaId: string, err: Error): void {
    const link = this.#links.get(replicaId);
    this.#links.delete(replicaId);
    this.#models.delete(replicaId);
    link?.die(err);
    for (const w of this.#linkWaiters.get(replicaId) ?? []) w.reject(err);
    this.#linkWaiters.delete(replicaId);
    for (const [key, set] of this.#replicaSets) {
      if (set.ids.includes(replicaId)) {
        set.ids = set.ids.filter((id) => id !== replicaId);
        this.#route(key);
      }
    }
  }

  /** Routers by target object: a handle reuses one object for all its calls, the proxy one per route. */
  readonly #byTarget = { handle: new WeakMap<HandleTarget, Router>(), proxy: new WeakMap<HandleTarget, Router>() };

  readonly #targets = new Map<string, HandleTarget>();

  /**
   * Asks for every deployment's replicas again: a cluster's head that restarted knows nothing of
   * what this thread routes to. Links that exist stay, with what is in flight on them.
   */
  resubscribe(): void {
    for (const target of this.#targets.values()) this.routes.subscribe(target);
  }

  router(target: HandleTarget, lane: Lane = "handle"): Router {
    const known = this.#byTarget[lane].get(target);
    if (known) return known;
    const key = targetKey(target);
    const rkey = `${lane}:${key}`;
    let router = this.#routers.get(rkey);
    if (!router) {
      router = new Router(target.deploymentName);
      router.onNoReplicas = () => this.routes.demand?.(target);
      this.#routers.set(rkey, router);
      this.#targets.set(key, { appName: target.appName, deploymentName: target.deploymentName });
      if (this.#replicaSets.has(key)) this.#route(key);
      else this.routes.subscribe(target);
    }
    this.#byTarget[lane].set(target, router);
    return router;
  }

  /** Sends a unary call; `args` may hold responses of earlier calls (chaining). */
  call(target: HandleTarget, options: CallOptions, method: string, args: unknown[], lane: Lane = "handle", ctx?: CallContext): Call {
    const parent = requestScope.getStore();
    const upstream: { call: OutgoingCall; at: number }[] = [];
    for (let i = 0; i < args.length; i++) {
      const a = args[i];
      if (a instanceof DeploymentResponse) {
        const call = a[CALL];
        if (!(call instanceof OutgoingCall)) throw new ServeError("a DeploymentResponse from another runtime cannot be passed here");
        upstream.push({ call, at: i });
        call.passed(a);
      } else if (a instanceof DeploymentResponseGenerator) {
        throw new ServeError("a streaming response (DeploymentResponseGenerator) cannot be passed to another call; iterate it instead");
      } else if (a !== null && typeof a === "object") {
        findNestedResponse(a, `argument ${i}`);
      }
    }
    const context: CallContext = ctx ?? callContext(parent?.requestId, options.multiplexedModelId, parent?.route);
    if (lane === "handle") handleCalled(target); // metrics
    return OutgoingCall.create(this, this.router(target, lane), method, args.slice(), context, scopeOf(parent), upstream);
  }

  /** Sends a streaming call; its items arrive through the returned stream. */
  stream(target: HandleTarget, options: CallOptions, method: string, args: unknown[]): OutgoingStream {
    const parent = requestScope.getStore();
    args.forEach((a, i) => {
      if (a instanceof DeploymentResponse || a instanceof DeploymentResponseGenerator) {
        throw new ServeError(`argument ${i} of a streaming call is a response: await it first (chaining works for unary calls only)`);
      }
      if (a !== null && typeof a === "object") findNestedResponse(a, `argument ${i}`);
    });
    const msg: CallMsg = {
      k: K.Call,
      id: 0,
      method,
      args: args.slice(),
      ctx: callContext(parent?.requestId, options.multiplexedModelId, parent?.route),
      stream: true,
    };
    handleCalled(target); // metrics
    return new OutgoingStream(this.router(target), msg, scopeOf(parent)).start();
  }

  /**
   * Sends an HTTP request to an ingress (the proxy's call); `onHead` hears the response head,
   * or the error that came instead (it may be called before this returns: a full queue).
   */
  http(target: HandleTarget, request: HttpRequestData, ctx: CallContext, onHead: NonNullable<OutgoingStream["onHead"]>): OutgoingStream {
    const msg: CallMsg = { k: K.Call, id: 0, method: "", args: [request], ctx, http: true };
    const stream = new OutgoingStream(this.router(target, "proxy"), msg, undefined);
    stream.onHead = onHead;
    if (request.body) stream.transfer = [request.body];
    return stream.start();
  }

  /** Requests waiting in this thread's queues (handles and proxy) for deployment `key`: the autoscaler's metric. */
  queuedFor(key: string): number {
    return (this.#routers.get(`handle:${key}`)?.queued ?? 0) + (this.#routers.get(`proxy:${key}`)?.queued ?? 0);
  }

  /** Requests waiting in this thread's queues, by deployment: `[appName, deploymentName, n]` (metrics). */
  *queues(): Iterable<[string, string, number]> {
    const totals = new Map<string, number>();
    for (const [rkey, r] of this.#routers) {
      const key = rkey.slice(rkey.indexOf(":") + 1);
      totals.set(key, (totals.get(key) ?? 0) + r.queued);
    }
    for (const [key, n] of totals) {
      const slash = key.indexOf("/");
      yield [key.slice(0, slash), key.slice(slash + 1), n];
    }
  }

  /** Closes every port (shutdown). */
  close(): void {
    for (const link of this.#links.values()) link.die(new ServeError("tsserve was shut down"));
    this.#links.clear();
    for (const r of this.#routers.values()) r.close(new ServeError("tsserve was shut down"));
    this.#routers.clear();
    this.#replicaSets.clear();
  }
}

function findNestedResponse(value: object, path: string, depth = 0): void {
  if (depth > 8 || ArrayBuffer.isView(value) || !isPlainContainer(value)) return;
  const entries: [string, unknown][] = Array.isArray(value) ? value.map((v, i) => [`[${i}]`, v]) : Object.entries(value).map(([k, v]) => [`.${k}`, v]);
  for (const [k, v] of entries) {
    if (v instanceof DeploymentResponse || v instanceof DeploymentResponseGenerator) {
      throw new ServeError(`${path}${k} is a DeploymentResponse nested inside an argument: pass DeploymentResponse only as a top-level argument (or await it first)`);
    }
    if (v !== null && typeof v === "object") findNestedResponse(v, path + k, depth + 1);
  }
}
