/**
 * Rules 5-7 of runtime/wire/protocol.ts at the upstream replica: downstream calls that wait for a
 * call here (`Then`), then go on to the replica their caller picked, with the value in place,
 * as the caller's own call: that replica answers the caller directly, so nothing comes back here.
 */
import { errorToData, ReplicaDiedError, RequestCancelledError } from "../../sdk/errors.ts";
import { isJsonSafe } from "../wire/json.ts";
import type { BatchedPort } from "../wire/port.ts";
import type { ReplicaLink } from "../wire/link.ts";
import { K, type ThenMsg, type ToCaller } from "../wire/protocol.ts";
import type { Result } from "./kept.ts";

/** The caller's end, as the replica holds it. */
export interface RelayCaller {
  readonly caller: string;
  readonly port: BatchedPort<ToCaller, unknown>;
}

/** Where the `Then`s waiting for one upstream call are kept (its running request). */
export interface ThenHolder {
  thens?: Relay[];
}

interface Relay {
  from: RelayCaller;
  then: ThenMsg;
  holder?: ThenHolder;
}

/** How the relays reach other replicas: a link (made if need be), or the one there is now. */
export interface RelayLinks {
  link(replicaId: string): ReplicaLink | Promise<ReplicaLink>;
  existing(replicaId: string): ReplicaLink | undefined;
}

export class Relays {
  /**
   * Every `Then` not yet sent on nor answered, by caller thread, then the caller's id for the
   * downstream call. One sent on is forgotten at once (rule 7): its answer does not come here.
   */
  readonly #byCaller = new Map<string, Map<number, Relay>>();

  constructor(readonly links: RelayLinks) {}

  /** A `Then` for an upstream call still running here: it waits for that call's end. */
  wait(from: RelayCaller, then: ThenMsg, holder: ThenHolder): void {
    const relay: Relay = { from, then, holder };
    (holder.thens ??= []).push(relay);
    this.#index(relay);
  }

  /** A `Then` whose upstream value is here already. */
  now(from: RelayCaller, then: ThenMsg, value: unknown): void {
    const relay: Relay = { from, then };
    this.#index(relay);
    this.#send(relay, value);
  }

  /** The upstream call ended: its waiting downstream calls go on with the value, or fail with its error. */
  ended(holder: ThenHolder, result: Result): void {
    const relays = holder.thens ?? [];
    holder.thens = undefined;
    for (const relay of relays) {
      relay.holder = undefined;
      if (result.ok) this.#send(relay, result.v);
      else this.#answer(relay, { k: K.Err, id: relay.then.id, e: result.e });
    }
  }

  /**
   * The caller cancelled downstream call `id`, which was to go on to `to`. A waiting one is
   * answered here; one already sent on is cancelled there, behind its call on the same port.
   */
  cancel(caller: string, id: number, to: string | undefined): void {
    const relay = this.#byCaller.get(caller)?.get(id);
    if (!relay) {
      const link = to === undefined ? undefined : this.links.existing(to);
      // No link: nothing was sent on through it (a relay waiting for one is still indexed).
      if (link && !link.dead) link.post({ k: K.Cancel, id, for: caller });
      return;
    }
    if (relay.holder?.thens) relay.holder.thens = relay.holder.thens.filter((r) => r !== relay);
    this.#answer(relay, { k: K.Err, id, e: errorToData(new RequestCancelledError(`request ${relay.then.call.ctx.requestId ?? id} was cancelled`)) });
  }

  /** The caller thread died: what waits for it is dropped (what was sent on, its replica cancels). */
  callerGone(caller: string): void {
    const relays = this.#byCaller.get(caller);
    this.#byCaller.delete(caller);
    for (const relay of relays?.values() ?? []) {
      if (relay.holder?.thens) relay.holder.thens = relay.holder.thens.filter((r) => r !== relay);
    }
  }

  /** Relays not yet sent on nor answered (for tests that check nothing leaks). */
  get size(): number {
    let n = 0;
    for (const m of this.#byCaller.values()) n += m.size;
    return n;
  }

  #index(relay: Relay): void {
    let m = this.#byCaller.get(relay.from.caller);
    if (!m) this.#byCaller.set(relay.from.caller, (m = new Map()));
    m.set(relay.then.id, relay);
  }

  #send(relay: Relay, value: unknown): void {
    const { then } = relay;
    // The message arrived as our own copy: it becomes the caller's call, under the caller's id.
    const call = then.call;
    call.args[then.at] = value;
    call.for = relay.from.caller;
    const go = (link: ReplicaLink) => {
      if (!this.#unindex(relay)) return; // cancelled while the link was on its way
      if (link.dead) return this.#reply(relay, { k: K.Err, id: then.id, e: errorToData(new ReplicaDiedError(`replica ${then.to} died before call ${then.id} could be sent to it`)) });
      link.post(call, isJsonSafe(call.args));
    };
    const link = this.links.link(then.to);
    if (link instanceof Promise) link.then(go, (err: Error) => this.#answer(relay, { k: K.Err, id: then.id, e: errorToData(err) }));
    else go(link);
  }

  /** Takes the relay out of the index; false if it was out already (answered, or its caller gone). */
  #unindex(relay: Relay): boolean {
    const m = this.#byCaller.get(relay.from.caller);
    if (m?.get(relay.then.id) !== relay) return false;
    m.delete(relay.then.id);
    if (m.size === 0) this.#byCaller.delete(relay.from.caller);
    return true;
  }

  /** The one answer of a relay that is not sent on: it leaves the index, then goes to the caller. */
  #answer(relay: Relay, msg: ToCaller): void {
    if (this.#unindex(relay)) this.#reply(relay, msg);
  }

  #reply(relay: Relay, msg: ToCaller): void {
    relay.from.port.send(msg, undefined, true);
  }
}
