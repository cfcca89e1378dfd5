/**
 * A running replica: the user's instance, and every request it serves. Calls arrive from
 * caller ports; a call's referenced arguments are pulled from the replicas that hold them;
 * results go back (or are kept here for a downstream replica to pull).
 */
import { type RequestContext, requestScope } from "../../sdk/context.ts";
import { type ErrorData, errorFromData, errorToData, RequestCancelledError, ServeError } from "../../sdk/errors.ts";
import type { DeploymentSpec } from "../../sdk/graph.ts";
import { takeTransfer } from "../../sdk/transfer.ts";
import { type Client, newRequestId } from "../router/client.ts";
import { nextId } from "../wire/ids.ts";
import type { BatchedPort } from "../wire/port.ts";
import { type CallMsg, type HttpRequestData, type HttpResponseData, K, type Ref, type ToCaller, type ToReplica } from "../wire/protocol.ts";
import { iteratorOf, StreamedHttp, toRequest, toResponseData } from "./http.ts";
import { isJsonSafe } from "../wire/json.ts";
import { type Cancellable, cancelChildren, type CancelScope, SCOPE } from "../wire/scope.ts";
import { Semaphore } from "./semaphore.ts";
import { Producer } from "./stream.ts";

/** The server end of one caller's port. */
export interface CallerPort {
  readonly caller: string;
  readonly port: BatchedPort<ToCaller, ToReplica>;
}

interface Running {
  from: CallerPort;
  msg: CallMsg;
  /** Made on first use of the request's signal: most requests never look at it. */
  ac: AbortController | undefined;
  cancelled: boolean;
  /** Its result is kept here for pulls (chaining). */
  kept: boolean;
  /** Calls this request made: cancelled with it (see wire/scope.ts). */
  children?: Cancellable | Set<Cancellable>;
  producer?: Producer;
}

interface Kept {
  done: boolean;
  ok?: boolean;
  v?: unknown;
  e?: ErrorData;
  waiters: ((k: Kept) => void)[];
}

const MISSING = "$missing";

/** The request's id, named now if its caller sent none (a call made outside any request). */
const requestIdOf = (run: Running): string => (run.msg.ctx.requestId ??= newRequestId());

/** The name of a call in kept results and pulls: its caller thread and id. */
const keyOf = (run: Running): string => `${run.from.caller}:${run.msg.id}`;

function signalOf(run: Running): AbortSignal {
  if (!run.ac) {
    run.ac = new AbortController();
    if (run.cancelled) run.ac.abort(new RequestCancelledError(`request ${requestIdOf(run)} was cancelled`));
  }
  return run.ac.signal;
}

export class Replica {
  /** Running requests by caller thread, then call id (no string key on the hot path). */
  readonly #running = new Map<string, Map<number, Running>>();
  #ongoing = 0;
  readonly #kept = new Map<string, Kept>();
  /** Values a caller passed on itself (a `Keep` that came too late), by `caller:id:at`. */
  readonly #supplied = new Map<string, { v?: unknown; e?: ErrorData } | ((s: { v?: unknown; e?: ErrorData }) => void)>();
  readonly #slots: Semaphore;
  readonly #idle: (() => void)[] = [];

  constructor(
    readonly id: string,
    readonly appName: string,
    readonly spec: DeploymentSpec,
    readonly instance: any,
    readonly client: Client,
  ) {
    this.#slots = new Semaphore(spec.options.maxOngoingRequests);
  }

  /** Requests running or waiting here. */
  get ongoing(): number {
    return this.#ongoing;
  }

  setMaxOngoing(n: number): void {
    this.#slots.resize(n);
  }

  /** Resolves when nothing is running (for graceful stop). */
  idle(): Promise<void> {
    if (this.#ongoing === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  receive(from: CallerPort, msg: ToReplica): void {
    switch (msg.k) {
      case K.Call:
        return this.#call(from, msg);
      case K.Cancel: {
        const run = this.#find(from.caller, msg.id);
        return run && this.#cancel(run);
      }
      case K.Keep: {
        const run = this.#find(from.caller, msg.id);
        return run && this.#keep(run);
      }
      case K.Release:
        this.#kept.delete(`${from.caller}:${msg.id}`);
        return;
      case K.Pull:
        return this.#pull(msg.ref.caller, msg.ref.id, (k) =>
          from.port.send(k.ok ? { k: K.Ok, id: msg.id, v: k.v } : { k: K.Err, id: msg.id, e: k.e! }, undefined, !k.ok || isJsonSafe(k.v)),
        );
      case K.Credit:
        this.#find(from.caller, msg.id)?.producer?.grant(msg.n);
        return;
      case K.Supply:
        return this.#supply(`${from.caller}:${msg.id}:${msg.at}`, { v: msg.v, e: msg.e });
    }
  }

  #call(from: CallerPort, msg: CallMsg): void {
    const run: Running = { from, msg, ac: undefined, cancelled: false, kept: false };
    let calls = this.#running.get(from.caller);
    if (!calls) this.#running.set(from.caller, (calls = new Map()));
    calls.set(msg.id, run);
    this.#ongoing++;
    if (msg.keep) this.#keep(run);
    if (!msg.refs && this.#slots.tryAcquire()) return this.#invoke(run, msg.args);
    this.#prepare(run).catch((err) => this.#finish(run, false, err));
  }

  /** The slow path: pull referenced arguments, then wait for a slot. */
  async #prepare(run: Running): Promise<void> {
    const args = run.msg.args;
    if (run.msg.refs) {
      await Promise.all(run.msg.refs.map(async (at) => (args[at] = await this.#resolveRef(run, args[at] as Ref, at))));
    }
    if (run.cancelled) throw new RequestCancelledError(`request ${requestIdOf(run)} was cancelled`);
    await this.#slots.acquire();
    if (run.cancelled) {
      this.#slots.release();
      throw new RequestCancelledError(`request ${requestIdOf(run)} was cancelled`);
    }
    this.#invoke(run, args);
  }

  #invoke(run: Running, args: unknown[]): void {
    const { msg } = run;
    const ctx: RequestContext = {
      get requestId() {
        return requestIdOf(run);
      },
      appName: this.appName,
      deploymentName: this.spec.name,
      replicaId: this.id,
      route: msg.ctx.route ?? "",
      multiplexedModelId: msg.ctx.modelId ?? "",
      get signal() {
        return signalOf(run);
      },
    };
    (ctx as { [SCOPE]?: CancelScope })[SCOPE] = run;
    let result: unknown;
    try {
      result = requestScope.run(ctx, () => (msg.http ? this.#serveHttp(run, args[0] as HttpRequestData) : this.#invokeMethod(msg.method, args)));
    } catch (err) {
      return this.#release(run, false, err);
    }
    if (result instanceof Promise) {
      result.then(
        (v) => this.#returned(run, ctx, v),
        (e) => this.#release(run, false, e),
      );
    } else this.#returned(run, ctx, result);
  }

  /**
   * After the method returns, user code runs again only in a stream's generator: only a
   * stream needs the request's context around #done.
   */
  #returned(run: Running, ctx: RequestContext, value: unknown): void {
    if (run.msg.stream || value instanceof StreamedHttp) requestScope.run(ctx, () => this.#done(run, value));
    else this.#done(run, value);
  }

  #invokeMethod(method: string, args: unknown[]): unknown {
    if (this.spec.kind === "function") {
      if (method !== "call") throw new ServeError(`deployment ${this.spec.name} is a function: call it with handle.remote(...), not .${method}`);
      return this.instance(...args);
    }
    const fn = this.instance[method];
    if (typeof fn !== "function" || method === "constructor" || method.startsWith("#")) {
      throw new ServeError(`deployment ${this.spec.name} has no method "${method}"; available methods: ${methodsOf(this.instance).join(", ") || "(none)"}`);
    }
    return fn.apply(this.instance, args);
  }

  /** Runs the ingress's fetch(request) or call(request); the response data, without a promise when none is needed. */
  #serveHttp(run: Running, data: HttpRequestData): HttpResponseData | StreamedHttp | Promise<HttpResponseData | StreamedHttp> {
    const inst = this.instance;
    const fn: ((...a: unknown[]) => unknown) | undefined =
      this.spec.kind === "function" ? inst : typeof inst.fetch === "function" ? inst.fetch : typeof inst.call === "function" ? inst.call : undefined;
    if (!fn) throw new ServeError(`deployment ${this.spec.name} cannot serve HTTP: give it a fetch(request) or call(request) method`);
    // A handler that declares no parameter gets no Request (building one is most of a small request's cost).
    const value = fn.length === 0 ? fn.call(inst) : fn.call(inst, toRequest(data, signalOf(run)));
    const accept = data.headers.accept;
    return isThenable(value) ? Promise.resolve(value).then((v) => toResponseData(v, accept)) : toResponseData(value, accept);
  }

  /** The method returned: answer, stream, or keep the value for pulls. */
  #done(run: Running, value: unknown): void {
    const { msg } = run;
    if (msg.http) {
      if (value instanceof StreamedHttp) {
        run.from.port.send({ k: K.Ok, id: msg.id, v: value.head }, undefined, true);
        return this.#stream(run, value.stream);
      }
      // Response data is plain JSON unless its body is bytes: no need to walk it.
      return this.#release(run, true, value, !((value as HttpResponseData).body instanceof ArrayBuffer));
    }
    if (msg.stream) {
      if (!isIterable(value)) {
        return this.#release(run, false, new TypeError(`method "${msg.method}" of ${this.spec.name} was called with stream: true but returned ${describe(value)}, not a generator or iterable`));
      }
      return this.#stream(run, iteratorOf(value));
    }
    if (isGenerator(value)) {
      (value as Generator).return?.(undefined);
      return this.#release(run, false, new TypeError(`method "${msg.method}" of ${this.spec.name} returned a generator: call it with handle.options({ stream: true })`));
    }
    this.#release(run, true, value);
  }

  #stream(run: Running, it: Iterator<unknown> | AsyncIterator<unknown>): void {
    const producer = new Producer(run.msg.id, run.from.port as BatchedPort<ToCaller, unknown>, it);
    run.producer = producer;
    if (run.cancelled) producer.stop();
    producer.run().finally(() => {
      this.#slots.release();
      this.#forget(run);
      // Stopped by the consumer: confirm, so the caller frees the slot.
      if (producer.stopped) run.from.port.send({ k: K.Err, id: run.msg.id, e: errorToData(new RequestCancelledError("stream cancelled")) }, undefined, true);
    });
  }

  /** Frees the slot, then answers. */
  #release(run: Running, ok: boolean, value: unknown, json?: boolean): void {
    this.#slots.release();
    this.#finish(run, ok, value, json);
  }

  /** Answers (or keeps the value for pulls); `json`: the caller knows whether the value is plain JSON and has no buffers to move. */
  #finish(run: Running, ok: boolean, value: unknown, json?: boolean): void {
    this.#forget(run);
    const { from, msg } = run;
    const kept = run.kept ? this.#kept.get(keyOf(run)) : undefined;
    if (kept && !kept.done) {
      kept.done = true;
      kept.ok = ok;
      if (ok) kept.v = value;
      else kept.e = errorToData(value);
      for (const w of kept.waiters) w(kept);
      kept.waiters = [];
      from.port.send(ok ? { k: K.Kept, id: msg.id } : { k: K.Err, id: msg.id, e: kept.e! }, undefined, true);
      return;
    }
    if (ok) {
      const transfer = json === undefined ? takeTransfer(value) : undefined;
      from.port.send({ k: K.Ok, id: msg.id, v: value }, transfer, json ?? (!transfer && isJsonSafe(value)));
    } else from.port.send({ k: K.Err, id: msg.id, e: errorToData(value) }, undefined, true);
  }

  #find(caller: string, id: number): Running | undefined {
    return this.#running.get(caller)?.get(id);
  }

  #forget(run: Running): void {
    if (!this.#running.get(run.from.caller)?.delete(run.msg.id)) return;
    if (--this.#ongoing === 0 && this.#idle.length) for (const wake of this.#idle.splice(0)) wake();
  }

  #cancel(run: Running): void {
    if (run.cancelled) return;
    run.cancelled = true;
    run.ac?.abort(new RequestCancelledError(`request ${requestIdOf(run)} was cancelled`));
    cancelChildren(run);
    run.producer?.stop();
  }

  /** A caller will pass this call's result on: keep it here when it is done. */
  #keep(run: Running): void {
    if (run.kept) return;
    run.kept = true;
    this.#kept.set(keyOf(run), { done: false, waiters: [] });
  }

  /** Answers with the kept result of `caller`'s call `id` when there is one; `MISSING` when it left already. */
  #pull(caller: string, id: number, answer: (k: Kept) => void): void {
    const key = `${caller}:${id}`;
    let kept = this.#kept.get(key);
    if (!kept) {
      const run = this.#find(caller, id);
      if (run) {
        this.#keep(run);
        kept = this.#kept.get(key);
      }
    }
    if (!kept) return answer({ done: true, ok: false, e: { name: MISSING, message: "the value was sent to its caller already" }, waiters: [] });
    if (kept.done) answer(kept);
    else kept.waiters.push(answer);
  }

  /** The value of a referenced argument: from its replica, or from the caller when it had to pass it on. */
  async #resolveRef(run: Running, ref: Ref, at: number): Promise<unknown> {
    const answer = await new Promise<Kept>((resolve) => {
      if (ref.replica === this.id) return this.#pull(ref.caller, ref.id, resolve);
      const pull = (link: import("../wire/link.ts").ReplicaLink) =>
        link.request({ k: K.Pull, id: nextId(), ref }, {
          receive: (m) => {
            if (m.k === K.Ok) resolve({ done: true, ok: true, v: m.v, waiters: [] });
            else if (m.k === K.Err) resolve({ done: true, ok: false, e: m.e, waiters: [] });
            return true;
          },
          fail: (err) => resolve({ done: true, ok: false, e: errorToData(err), waiters: [] }),
        });
      const link = this.client.link(ref.replica);
      if (link instanceof Promise) link.then(pull);
      else pull(link);
    });
    if (answer.ok) return answer.v;
    if (answer.e!.name !== MISSING) throw errorFromData(answer.e!);
    const supplied = await this.#waitSupply(`${run.from.caller}:${run.msg.id}:${at}`);
    if (supplied.e) throw errorFromData(supplied.e);
    return supplied.v;
  }

  #supply(key: string, value: { v?: unknown; e?: ErrorData }): void {
    const waiting = this.#supplied.get(key);
    if (typeof waiting === "function") {
      this.#supplied.delete(key);
      waiting(value);
    } else this.#supplied.set(key, value);
  }

  #waitSupply(key: string): Promise<{ v?: unknown; e?: ErrorData }> {
    const have = this.#supplied.get(key);
    if (have && typeof have !== "function") {
      this.#supplied.delete(key);
      return Promise.resolve(have);
    }
    return new Promise((resolve) => this.#supplied.set(key, resolve));
  }

  /** A caller thread went away: cancel what it asked for and drop what was kept for it. */
  callerGone(caller: string): void {
    for (const run of [...(this.#running.get(caller)?.values() ?? [])]) this.#cancel(run);
    for (const key of this.#kept.keys()) if (key.startsWith(`${caller}:`)) this.#kept.delete(key);
  }
}

function methodsOf(instance: object): string[] {
  const names = new Set<string>();
  for (let p = instance; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const k of Object.getOwnPropertyNames(p)) {
      if (k !== "constructor" && typeof (instance as any)[k] === "function" && !k.startsWith("_")) names.add(k);
    }
  }
  return [...names].sort();
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === "object" && typeof (value as { then?: unknown }).then === "function";
}

function isGenerator(value: unknown): boolean {
  const tag = value && typeof value === "object" ? (value as any)[Symbol.toStringTag] : undefined;
  return tag === "Generator" || tag === "AsyncGenerator";
}

function isIterable(value: unknown): value is Iterable<unknown> | AsyncIterable<unknown> {
  return value !== null && typeof value === "object" && (Symbol.iterator in value || Symbol.asyncIterator in value);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") return `an object (${value.constructor?.name ?? "Object"})`;
  return `a ${typeof value}`;
}
