/**
 * A unary call as its caller tracks it: waiting for the responses it depends on, queued
 * in the router, sent, then settled. It also plays the upstream side of chaining: when a
 * pending response is passed to another call, its value is kept at the replica that made
 * it and pulled from there by the downstream replica.
 */
import { errorFromData, errorToData, RequestCancelledError } from "../../sdk/errors.ts";
import type { Call } from "../../sdk/runtime.ts";
import { takeTransfer, type Transferable } from "../../sdk/transfer.ts";
import { nextId } from "./ids.ts";
import { type CancelScope, enter, leave } from "./scope.ts";
import { isJsonSafe } from "./json.ts";
import type { ReplicaLink, Receiver } from "./link.ts";
import { type CallContext, type CallMsg, K, type Ref, type ThenMsg, type ToCaller } from "./protocol.ts";
import type { Routable, Router } from "../router/router.ts";

/**
 * A value kept at its replica for nobody to pull is released when its response object is
 * collected. Only such responses are registered (a registration costs about a microsecond and
 * GC work, and most passed responses never leave a value behind: a cheap one comes with `Kept`).
 */
const released = new FinalizationRegistry<OutgoingCall>((call) => call.unreachable());

type Outcome = { ok: true; v: unknown } | { ok: false; e: Error } | { kept: true };

interface Waiter {
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

/** The thread-level facts a call needs: its name (for refs) and how to release kept values. */
export interface CallerThread {
  readonly name: string;
}

export class OutgoingCall implements Call, Routable, Receiver {
  readonly id = nextId();
  link: ReplicaLink | undefined;
  get modelId(): string {
    return this.msg.ctx.modelId ?? "";
  }
  #state: "waiting" | "queued" | "sent" | "done" = "waiting";
  #outcome: Outcome | undefined;
  /** Made on first use, as are the lists below: most calls never need them. */
  #waiters: Waiter[] | undefined;
  #counted = false;
  #cancelled = false;
  /** Calls waiting for this one to be sent before they can reference it. */
  #onSent: (() => void)[] | undefined;
  /** Upstream side of chaining. */
  #keep: "no" | "asked" = "no";
  #dependents: { call: OutgoingCall; at: number }[] | undefined;
  #dependentsLeft = 0;
  #valueFetched = false;
  #keptAtReplica = false;
  #unreachable = false;
  #released = false;
  /** The response object of this call, once it was passed to another call and until it is registered in `released`. */
  #response: object | undefined;
  /** Downstream side: responses this call's args wait on. */
  #upstream: { call: OutgoingCall; at: number }[] = [];
  #waitingFor = 0;
  /** The upstream calls that count this one among their dependents (until it ends). */
  #retainedFrom: OutgoingCall[] | undefined;
  /** The chain's short road (protocol.ts, rule 5): the one pending upstream, whose replica sends this call on. */
  #then: { up: OutgoingCall; at: number } | undefined;
  /**
   * Set while this call goes as a `Then` through the upstream's replica: its answer comes from
   * there, or from `link` if that replica sends it on (protocol.ts, rules 5-7).
   */
  #answeredBy: ReplicaLink | undefined;
  /** The request this call was made from (cancelling it cancels this call). */
  readonly #scope: CancelScope | undefined;

  constructor(
    readonly thread: CallerThread,
    readonly router: Router,
    readonly msg: CallMsg,
    readonly transfer: Transferable[] | undefined,
    /** The request this call was made from: its cancellation cancels this call. */
    parent: CancelScope | undefined,
  ) {
    this.#scope = parent;
    if (!enter(parent, this)) this.#cancelled = true;
  }

  /** Builds the message for a call: `args` may hold responses (top-level) to chain. */
  static create(
    thread: CallerThread,
    router: Router,
    method: string,
    args: unknown[],
    ctx: CallContext,
    parent: CancelScope | undefined,
    upstream: { call: OutgoingCall; at: number }[],
  ): OutgoingCall {
    let transfer: Transferable[] | undefined;
    for (const a of args) {
      const t = takeTransfer(a);
      if (t) (transfer ??= []).push(...t);
    }
    const call = new OutgoingCall(thread, router, { k: K.Call, id: 0, method, args, ctx }, transfer, parent);
    call.msg.id = call.id;
    call.#start(upstream);
    return call;
  }

  #start(upstream: { call: OutgoingCall; at: number }[]): void {
    if (this.#cancelled) return this.#settle({ ok: false, e: new RequestCancelledError("the request that made this call was cancelled") });
    for (const dep of upstream) {
      const failed = dep.call.#outcome && "ok" in dep.call.#outcome && !dep.call.#outcome.ok ? dep.call.#outcome.e : undefined;
      if (failed) return this.#settle({ ok: false, e: failed });
    }
    this.#upstream = upstream;
    this.#waitingFor = 0;
    for (const dep of upstream) {
      if (dep.call.#state === "waiting" || dep.call.#state === "queued") {
        this.#waitingFor++;
        (dep.call.#onSent ??= []).push(() => this.#upstreamSent());
      }
    }
    if (this.#waitingFor === 0) this.#submit();
  }

  #upstreamSent(): void {
    if (--this.#waitingFor === 0 && this.#state === "waiting") this.#submit();
  }

  /** Fills in each upstream argument: its value if here already, else a reference to where it is. */
  #submit(): void {
    if (this.#upstream.length === 1 && !this.transfer) {
      const { call: up, at } = this.#upstream[0]!;
      if (!up.#outcome && up.link) {
        // One pending upstream: its replica will send this call on with the value (rule 5).
        this.#then = { up, at };
        this.msg.args[at] = null;
        this.#state = "queued";
        return this.router.submit(this);
      }
    }
    for (const { call: up, at } of this.#upstream) {
      if (!this.#fill(up, at)) return;
    }
    this.#state = "queued";
    this.router.submit(this);
  }

  /**
   * Puts upstream `up`'s value at `args[at]` if it is here, else a reference to it at its
   * replica; false when `up` failed (this call has failed with it).
   */
  #fill(up: OutgoingCall, at: number): boolean {
    const o = up.#outcome;
    if (o && "ok" in o) {
      if (!o.ok) {
        this.#settle({ ok: false, e: o.e });
        return false;
      }
      this.msg.args[at] = o.v;
      return true;
    }
    up.#retain(this, at);
    (this.#retainedFrom ??= []).push(up);
    (this.msg.refs ??= []).push(at);
    this.msg.args[at] = { replica: up.link!.replicaId, caller: this.thread.name, id: up.id } satisfies Ref;
    return true;
  }

  dispatch(link: ReplicaLink): void {
    this.link = link;
    this.#counted = true;
    this.#state = "sent";
    const then = this.#then;
    if (then && !then.up.#outcome && !then.up.link!.dead) {
      // Counted at `link`, sent through the upstream's replica, which sends it on to `link` as
      // our call: the answer comes from either one, so both wait for it (rule 5).
      const via = (this.#answeredBy = then.up.link!);
      link.expect(this.id, this);
      link.open();
      const msg: ThenMsg = { k: K.Then, id: this.id, up: then.up.id, to: link.replicaId, at: then.at, call: this.msg };
      const json = isJsonSafe(this.msg.args);
      if (json && via.holds(then.up.msg)) {
        // The upstream call has not left yet: ride on it, so its replica knows before it runs it.
        (then.up.msg.thens ??= []).push(msg);
        via.expect(this.id, this);
      } else via.request(msg, this, undefined, json);
    } else if (this.#sendItself()) {
      link.request(this.msg, this, this.transfer, !this.transfer && isJsonSafe(this.msg.args));
    }
    const sent = this.#onSent;
    this.#onSent = undefined;
    if (sent) for (const f of sent) f();
  }

  /**
   * Before sending this call itself: an upstream it was to be sent on by has ended (or came
   * `Late`), so its value, or a reference to it, goes in now. False when the upstream failed.
   */
  #sendItself(): boolean {
    const then = this.#then;
    if (!then) return true;
    this.#then = undefined;
    this.#answeredBy = undefined;
    if (this.#fill(then.up, then.at)) return true;
    this.#uncount();
    return false;
  }

  #uncount(): void {
    if (!this.#counted) return;
    this.#counted = false;
    this.link!.release();
  }

  receive(msg: ToCaller): boolean {
    if (msg.k === K.Late) {
      // The upstream had answered before our Then came: send this call ourselves (still counted at `link`).
      this.#stopWaiting();
      if (this.#state !== "sent") this.#uncount();
      else if (this.#sendItself()) this.link!.request(this.msg, this, undefined, isJsonSafe(this.msg.args));
      return false; // forgotten above, and maybe asked for again on `link` (which may be the same link)
    }
    this.#stopWaiting();
    this.#uncount();
    switch (msg.k) {
      case K.Ok:
        this.#settle({ ok: true, v: msg.v });
        return true;
      case K.Err:
        this.#settle({ ok: false, e: errorFromData(msg.e) });
        return true;
      case K.Kept:
        this.#keptAtReplica = true;
        if ("v" in msg) {
          // The value came along: nobody here will pull it, so it is released once the dependents are done.
          this.#valueFetched = true;
          this.#settle({ ok: true, v: msg.v }, true);
        } else {
          this.#settle({ kept: true });
          this.#watch();
        }
        return true;
    }
    return true;
  }

  /** A call sent as a `Then` has its answer (or a death): the other port no longer waits for one. */
  #stopWaiting(): void {
    const via = this.#answeredBy;
    if (!via) return;
    this.#answeredBy = undefined;
    via.forget(this.id);
    this.link!.forget(this.id);
  }

  /** The link died (the replica's, or the relaying upstream's), or the router refused the call before sending it. */
  fail(err: Error): void {
    const via = this.#answeredBy;
    this.#stopWaiting();
    // The upstream's replica may have sent this call on before it died: cancel it there too (rule 7).
    if (via?.dead && !this.link!.dead) this.link!.post({ k: K.Cancel, id: this.id });
    this.#uncount();
    this.#settle({ ok: false, e: err });
  }

  result(): Promise<unknown> {
    const o = this.#outcome;
    if (o && "ok" in o) return o.ok ? Promise.resolve(o.v) : Promise.reject(o.e);
    return new Promise((resolve, reject) => {
      (this.#waiters ??= []).push({ resolve, reject });
      if (o) this.#pull();
    });
  }

  /** Cancels: a queued call leaves the queue; a sent one is told to stop (its slot frees when the replica answers). */
  cancel(): void {
    if (this.#cancelled || this.#state === "done") return;
    this.#cancelled = true;
    if (this.#state === "queued") this.router.withdraw(this);
    if (this.#state === "sent") {
      // Through the upstream's replica, which cancels it where it sent it on, if it did (rule 7).
      if (this.#answeredBy) this.#answeredBy.post({ k: K.Cancel, id: this.id, to: this.link!.replicaId });
      else this.link!.post({ k: K.Cancel, id: this.id });
    }
    this.#settle({ ok: false, e: new RequestCancelledError(`request ${this.msg.ctx.requestId || this.id} was cancelled`) });
  }

  /** `kept`: the value is also kept at the replica, for the dependents that pull it (they need no Supply). */
  #settle(outcome: Outcome, kept = false): void {
    if (this.#state === "done") return;
    this.#state = "done";
    this.#outcome = outcome;
    leave(this.#scope, this);
    // Only the upstreams that counted this call (a call cancelled while it waited was never counted).
    for (const up of this.#retainedFrom ?? []) up.#dependentDone();
    this.#retainedFrom = undefined;
    this.#upstream = [];
    const blocked = this.#onSent;
    this.#onSent = undefined;
    if (blocked) for (const f of blocked) f();
    if ("kept" in outcome) {
      if (this.#waiters?.length) this.#pull();
      this.#maybeRelease();
      return;
    }
    const waiters = this.#waiters;
    this.#waiters = undefined;
    if (waiters) for (const w of waiters) outcome.ok ? w.resolve(outcome.v) : w.reject(outcome.e);
    if (kept) this.#maybeRelease();
    else if (this.#keep === "asked") this.#supplyDependents(outcome);
  }

  /** Upstream: `dependent` reads this call's value from our replica. */
  #retain(dependent: OutgoingCall, at: number): void {
    (this.#dependents ??= []).push({ call: dependent, at });
    this.#dependentsLeft++;
    if (this.#keep === "no") {
      this.#keep = "asked";
      // If the call has not left this tick's batch yet, the flag travels with it; if it has,
      // the Keep message catches it (or comes too late, and the caller supplies the value).
      this.msg.keep = true;
      if (!this.link!.holds(this.msg)) this.link!.post({ k: K.Keep, id: this.id });
    }
  }

  /** Our `Keep` came too late and the value came here: hand it to each dependent ourselves. */
  #supplyDependents(outcome: { ok: true; v: unknown } | { ok: false; e: Error }): void {
    for (const { call, at } of this.#dependents ?? []) {
      if (call.#state === "queued") {
        // Not sent yet: put the value in place of the reference.
        if (!outcome.ok) {
          call.router.withdraw(call);
          call.#settle({ ok: false, e: outcome.e });
        } else {
          call.msg.args[at] = outcome.v;
          call.msg.refs = call.msg.refs!.filter((i) => i !== at);
          if (!call.msg.refs.length) delete call.msg.refs;
        }
        continue;
      }
      if (call.#state !== "sent" || !call.link) continue;
      call.link.post(
        outcome.ok ? { k: K.Supply, id: call.id, at, v: outcome.v } : { k: K.Supply, id: call.id, at, e: errorToData(outcome.e) },
        !outcome.ok || isJsonSafe(outcome.v),
      );
    }
    this.#keep = "no";
  }

  #dependentDone(): void {
    this.#dependentsLeft--;
    this.#maybeRelease();
  }

  /** This call's response object was passed to another call: its value may be kept at the replica. */
  passed(response: object): void {
    if (!this.#released && !this.#unreachable) this.#response ??= response;
  }

  /** The value stays at the replica: release it when the response object is collected, unless it is released first. */
  #watch(): void {
    const response = this.#response;
    this.#response = undefined;
    if (response && !this.#released) released.register(response, this);
  }

  /** The response object is gone: nobody can ask for the value here any more. */
  unreachable(): void {
    this.#unreachable = true;
    this.#maybeRelease();
  }

  #maybeRelease(): void {
    if (this.#released || this.#dependentsLeft > 0 || !this.#keptAtReplica) return;
    if (!this.#valueFetched && !this.#unreachable) return;
    this.#released = true;
    // Nothing waits on a release: it leaves with whatever goes to that replica this turn.
    if (this.link && !this.link.dead) this.link.post({ k: K.Release, id: this.id }, true, true);
  }

  #pulling = false;

  /** Fetches a kept value from the replica that holds it, for the waiters here. */
  #pull(): void {
    if (this.#pulling) return;
    this.#pulling = true;
    const link = this.link!;
    const id = nextId();
    const settle = (o: { ok: true; v: unknown } | { ok: false; e: Error }) => {
      this.#outcome = o;
      this.#valueFetched = true;
      const waiters = this.#waiters;
      this.#waiters = undefined;
      if (waiters) for (const w of waiters) o.ok ? w.resolve(o.v) : w.reject(o.e);
      this.#maybeRelease();
    };
    link.request({ k: K.Pull, id, ref: { replica: link.replicaId, caller: this.thread.name, id: this.id } }, {
      receive(msg) {
        if (msg.k === K.Ok) settle({ ok: true, v: msg.v });
        else if (msg.k === K.Err) settle({ ok: false, e: errorFromData(msg.e) });
        return true;
      },
      fail(err) {
        settle({ ok: false, e: err });
      },
    });
  }
}
