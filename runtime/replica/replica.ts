/**
 * A running replica: the user's instance, and every request it serves. Calls arrive from
 * caller ports; a call's referenced arguments are pulled from the replicas that hold them;
 * results go back (or are kept here for a downstream replica to pull).
 */
import { type RequestContext, requestScope } from "../../sdk/context.ts";
import { errorToData, RequestCancelledError, ServeError } from "../../sdk/errors.ts";
import type { DeploymentSpec } from "../../sdk/graph.ts";
import { takeTransfer } from "../../sdk/transfer.ts";
import { type Client, newRequestId } from "../router/client.ts";
import type { BatchedPort } from "../wire/port.ts";
import { type CallMsg, type HttpRequestData, type IdMsg, type HttpResponseData, K, type ThenMsg, type ToCaller, type ToReplica } from "../wire/protocol.ts";
import { iteratorOf, StreamedHttp, toRequest, toResponseData } from "./http.ts";
import { isJsonSafe } from "../wire/json.ts";
import { type Cancellable, cancelChildren, type CancelScope, SCOPE } from "../wire/scope.ts";
import { KeptResults, type Result } from "./kept.ts";
import { type PullRoute, RefArgs } from "./ref_args.ts";
import { Relays, type ThenHolder } from "./relay.ts";
import { Semaphore } from "./semaphore.ts";
import { Producer } from "./stream.ts";
import { Sockets } from "./websocket.ts";
import type { SocketToReplica } from "../wire/protocol.ts";
import { callFinished } from "../metrics/replica.ts";

/** The server end of one caller's port. */
export interface CallerPort {
  readonly caller: string;
  readonly port: BatchedPort<ToCaller, ToReplica>;
}

interface Running extends ThenHolder {
  from: CallerPort;
  msg: CallMsg;
  /** When it arrived (performance.now()), for status's oldest request. */
  at: number;
  /** Made on first use of the request's signal: most requests never look at it. */
  ac: AbortController | undefined;
  cancelled: boolean;
  /** Its result is kept here for pulls (chaining). */
  kept: boolean;
  /** Its referenced arguments, while they are on their way (chaining). */
  refs?: RefArgs;
  /** Calls this request made: cancelled with it (see wire/scope.ts). */
  children?: Cancellable | Set<Cancellable>;
  producer?: Producer;
}

/** The request's id, named now if its caller sent none (a call made outside any request). */
const requestIdOf = (run: Running): string => (run.msg.ctx.requestId ??= newRequestId());

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
  /** Results kept for pulls, and pulls waiting for them (the upstream side of chaining). */
  readonly kept = new KeptResults();
  /** Downstream calls waiting for a call here, or sent on for their caller (the chain's short road). */
  readonly relays: Relays;
  readonly #pullRoute: PullRoute;
  readonly #slots: Semaphore;
  readonly #idle: (() => void)[] = [];
  /**
   * Caller threads that died. What such a thread posted before it died may still arrive after
   * the news of its death (two ports): it is dropped, or a pull from it would wait forever.
   */
  readonly #gone = new Set<string>();
  /** Every caller thread's port here, by its name: a call sent on for a caller is answered there (protocol.ts, rule 6). */
  readonly #callers = new Map<string, CallerPort>();
  /**
   * Messages sent on for a caller whose port has not reached this replica yet (the controller
   * hands out the two ends separately), in the order they came: they run once it arrives.
   */
  readonly #early = new Map<string, (CallMsg | IdMsg)[]>();
  /** WebSockets relayed to this replica (websocket.ts); they hold no request slot. */
  readonly sockets: Sockets = new Sockets(this);

  constructor(
    readonly id: string,
    readonly appName: string,
    readonly spec: DeploymentSpec,
    readonly instance: any,
    readonly client: Client,
  ) {
    this.#slots = new Semaphore(spec.options.maxOngoingRequests);
    this.#pullRoute = { self: id, kept: this.kept, link: (replicaId) => client.link(replicaId) };
    this.relays = new Relays({ link: this.#pullRoute.link, existing: (replicaId) => client.existingLink(replicaId) });
  }

  /** Requests running or waiting here. */
  get ongoing(): number {
    return this.#ongoing;
  }

  /** How long the oldest request here has been running or waiting (ms); 0 when none. */
  oldestRequestMs(): number {
    let oldest = Infinity;
    for (const calls of this.#running.values()) for (const run of calls.values()) oldest = Math.min(oldest, run.at);
    return oldest === Infinity ? 0 : performance.now() - oldest;
  }

  setMaxOngoing(n: number): void {
    this.#slots.resize(n);
  }

  /** Resolves when nothing is running (for graceful stop). */
  idle(): Promise<void> {
    if (this.#ongoing === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** A caller thread's port reached this replica: calls sent on for it may now run. */
  addCaller(cp: CallerPort): void {
    this.#callers.set(cp.caller, cp);
    const early = this.#early.get(cp.caller);
    this.#early.delete(cp.caller);
    if (early) for (const msg of early) this.#sentOn(cp.caller, msg);
  }

  receive(from: CallerPort, msg: ToReplica): void {
    if (this.#gone.size !== 0 && this.#gone.has(from.caller)) return;
    if (msg.k >= K.SocketOpen) return this.sockets.receive(from, msg as SocketToReplica);
    switch (msg.k) {
      case K.Call:
        if (msg.for !== undefined) return this.#sentOn(msg.for, msg);
        return this.#call(from, msg);
      case K.Cancel: {
        if (msg.for !== undefined) return this.#sentOn(msg.for, msg);
        const run = this.#find(from.caller, msg.id);
        if (run) return this.#cancel(run);
        this.relays.cancel(from.caller, msg.id, msg.to);
        return;
      }
      case K.Then:
        return this.#then(from, msg);
      case K.Keep: {
        const run = this.#find(from.caller, msg.id);
        return run && this.#keep(run);
      }
      case K.Release:
        return this.kept.release(from.caller, msg.id);
      case K.Pull:
        return this.#pull(from, msg.id, msg.ref.caller, msg.ref.id);
      case K.Unpull:
        return this.kept.unpull(msg.ref.caller, msg.ref.id, from.caller, msg.id);
      case K.Open:
        return;
      case K.Credit:
        this.#find(from.caller, msg.id)?.producer?.grant(msg.n);
        return;
      case K.Supply:
        return this.#find(from.caller, msg.id)?.refs?.supply(msg.at, msg.e ? { ok: false, e: msg.e } : { ok: true, v: msg.v });
    }
  }

  /**
   * A call an upstream replica sent on for `caller`, or its cancel behind it (protocol.ts,
   * rules 6-7): handled as if `caller` had sent it on its own port, once that port is here.
   */
  #sentOn(caller: string, msg: CallMsg | IdMsg): void {
    if (this.#gone.size !== 0 && this.#gone.has(caller)) return;
    const cp = this.#callers.get(caller);
    if (!cp) {
      const early = this.#early.get(caller);
      if (early) early.push(msg);
      else this.#early.set(caller, [msg]);
      return;
    }
    if (msg.k === K.Call) return this.#call(cp, msg);
    const run = this.#find(caller, msg.id);
    if (run) this.#cancel(run);
  }

  #call(from: CallerPort, msg: CallMsg): void {
    const run: Running = { from, msg, at: performance.now(), ac: undefined, cancelled: false, kept: false };
    let calls = this.#running.get(from.caller);
    if (!calls) this.#running.set(from.caller, (calls = new Map()));
    calls.set(msg.id, run);
    this.#ongoing++;
    // Pulls that came before the call (protocol.ts, invariant 1) keep its result here too.
    if (msg.keep || this.kept.has(from.caller, msg.id)) this.#keep(run);
    if (msg.thens) for (const then of msg.thens) this.relays.wait(from, then, run);
    if (!msg.refs && this.#slots.tryAcquire()) return this.#invoke(run, msg.args);
    this.#prepare(run).catch((err) => this.#finish(run, false, err));
  }

  /** The slow path: pull referenced arguments, then wait for a slot. */
  async #prepare(run: Running): Promise<void> {
    const args = run.msg.args;
    if (run.msg.refs) {
      run.refs = new RefArgs(args, run.msg.refs, this.#pullRoute);
      await run.refs.ready;
      run.refs = undefined;
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
      callFinished(run.msg.ctx.route, true, run.at); // metrics
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
    if (!this.#forget(run)) return;
    callFinished(run.msg.ctx.route, ok, run.at); // metrics
    const { from, msg } = run;
    // Sent on downstream (protocol.ts, rule 5): the caller waits for the downstream call's answer,
    // not this one, which only frees the slot and settles a response nobody may read. So it
    // waits for the event loop's turn and leaves with the others (port.ts): one postMessage to
    // the caller per turn instead of one per batch handled.
    const relayed = run.thens !== undefined;
    // A value sent on downstream that would cost a copy to its caller too stays here until asked for.
    if (relayed && ok && !isCheap(value)) this.#keep(run);
    if (run.kept || relayed) {
      const result: Result = ok ? { ok: true, v: value } : { ok: false, e: errorToData(value) };
      if (relayed) this.relays.ended(run, result);
      if (run.kept) {
        this.kept.settle(from.caller, msg.id, result);
        from.port.send(result.ok ? keptMsg(msg.id, value) : { k: K.Err, id: msg.id, e: result.e }, undefined, true, relayed);
        return;
      }
    }
    if (ok) {
      // A value also sent on downstream is copied, not moved: the downstream call has it too.
      const transfer = json === undefined && !relayed ? takeTransfer(value) : undefined;
      from.port.send({ k: K.Ok, id: msg.id, v: value }, transfer, json ?? (!transfer && isJsonSafe(value)), relayed);
    } else from.port.send({ k: K.Err, id: msg.id, e: errorToData(value) }, undefined, true, relayed);
  }

  #find(caller: string, id: number): Running | undefined {
    return this.#running.get(caller)?.get(id);
  }

  /** Takes a request out of the running ones; false if it was out already. */
  #forget(run: Running): boolean {
    if (!this.#running.get(run.from.caller)?.delete(run.msg.id)) return false;
    if (--this.#ongoing === 0 && this.#idle.length) for (const wake of this.#idle.splice(0)) wake();
    return true;
  }

  #cancel(run: Running): void {
    if (run.cancelled) return;
    run.cancelled = true;
    const err = new RequestCancelledError(`request ${requestIdOf(run)} was cancelled`);
    run.ac?.abort(err);
    run.refs?.cancel(err);
    cancelChildren(run);
    run.producer?.stop();
  }

  /**
   * A downstream call to run with the value of call `then.up` here (protocol.ts, rule 5): it
   * waits for that call, goes on at once if the value is kept here, or is `Late`.
   */
  #then(from: CallerPort, then: ThenMsg): void {
    const run = this.#find(from.caller, then.up);
    if (run) return this.relays.wait(from, then, run);
    const kept = this.kept.valueOf(from.caller, then.up);
    if (kept) this.relays.now(from, then, kept.v);
    else from.port.send({ k: K.Late, id: then.id }, undefined, true);
  }

  /** A caller will pass this call's result on: keep it here when it is done. */
  #keep(run: Running): void {
    // Nothing is kept for a caller that died: nobody would release it.
    if (run.kept || this.#gone.has(run.from.caller)) return;
    run.kept = true;
    this.kept.expect(run.from.caller, run.msg.id);
  }

  /**
   * A pull for `caller`'s call `id`, from `from` under `pullId`. A pull that finds the call
   * running keeps its result here; one that comes before the call waits for it (protocol.ts).
   */
  #pull(from: CallerPort, pullId: number, caller: string, id: number): void {
    const answer = (r: Result) => from.port.send(r.ok ? { k: K.Ok, id: pullId, v: r.v } : { k: K.Err, id: pullId, e: r.e }, undefined, !r.ok || isJsonSafe(r.v));
    // Nothing is kept for a thread that died: its caller cannot release it.
    if (this.#gone.size !== 0 && this.#gone.has(caller)) return answer({ ok: false, e: callerGoneError(caller) });
    if (!this.kept.has(caller, id)) {
      const run = this.#find(caller, id);
      if (run) this.#keep(run);
    }
    this.kept.pull(caller, id, { caller: from.caller, id: pullId, answer });
  }

  /** A caller thread went away: cancel what it asked for and drop what was kept for it. */
  /**
   * A new port from `caller`, after it was gone: the same thread name in a new life (a cluster
   * node's proxy thread `main@<node>` when the node is started again under its id). Its messages
   * are taken again; what its earlier life left was cancelled when it went.
   */
  callerBack(caller: string): void {
    this.#gone.delete(caller);
  }

  callerGone(caller: string): void {
    this.#gone.add(caller);
    this.#callers.delete(caller);
    this.#early.delete(caller);
    for (const run of [...(this.#running.get(caller)?.values() ?? [])]) this.#cancel(run);
    this.kept.threadGone(caller, callerGoneError(caller));
    this.relays.callerGone(caller);
  }
}

/** A value whose copy costs about nothing (and that JSON carries exactly). */
const isCheap = (value: unknown): boolean =>
  value === null || typeof value === "boolean" || (Number.isFinite(value) && !Object.is(value, -0)) || (typeof value === "string" && value.length <= 256);

/** `Kept`, with the value when copying it costs nothing (the caller then never pulls it). */
function keptMsg(id: number, value: unknown): ToCaller {
  return isCheap(value) ? { k: K.Kept, id, v: value } : { k: K.Kept, id };
}

const callerGoneError = (caller: string) => errorToData(new RequestCancelledError(`the thread that made this call (${caller}) went away`));

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
