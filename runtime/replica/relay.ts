/**
 * Rule 5 of runtime/wire/protocol.ts at the upstream replica: downstream calls that wait for a
 * call here (`Then`), then go to the replica their caller picked, with the value in place;
 * their answers are relayed to the caller under the caller's id.
 */
import { errorToData, RequestCancelledError } from "../../sdk/errors.ts";
import { nextId } from "../wire/ids.ts";
import { isJsonSafe } from "../wire/json.ts";
import type { BatchedPort } from "../wire/port.ts";
import type { ReplicaLink } from "../wire/link.ts";
import { type ErrMsg, K, type ThenMsg, type ToCaller } from "../wire/protocol.ts";
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
  /** Once sent on: the link it went out on (unset while the link is on its way) and its id there. */
  link?: ReplicaLink;
  sentId?: number;
}

export class Relays {
  /** Every relay not yet answered, by caller thread, then the caller's id for the downstream call. */
  readonly #byCaller = new Map<string, Map<number, Relay>>();

  constructor(readonly link: (replicaId: string) => ReplicaLink | Promise<ReplicaLink>) {}

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

  /** The caller cancelled downstream call `id`; false if it is none of ours. */
  cancel(caller: string, id: number): boolean {
    const relay = this.#byCaller.get(caller)?.get(id);
    if (!relay) return false;
    if (relay.sentId !== undefined && relay.link) {
      // Sent on: the downstream replica answers the cancel, and that answer is relayed.
      relay.link.post({ k: K.Cancel, id: relay.sentId });
      return true;
    }
    if (relay.holder?.thens) relay.holder.thens = relay.holder.thens.filter((r) => r !== relay);
    this.#answer(relay, { k: K.Err, id, e: errorToData(new RequestCancelledError(`request ${relay.then.call.ctx.requestId ?? id} was cancelled`)) });
    return true;
  }

  /** The caller thread died: what was sent on for it is cancelled, and nothing is answered. */
  callerGone(caller: string): void {
    const relays = this.#byCaller.get(caller);
    this.#byCaller.delete(caller);
    for (const relay of relays?.values() ?? []) {
      if (relay.holder?.thens) relay.holder.thens = relay.holder.thens.filter((r) => r !== relay);
      if (relay.sentId !== undefined) relay.link?.post({ k: K.Cancel, id: relay.sentId });
    }
  }

  /** Relays not yet answered (for tests that check nothing leaks). */
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
    // The message arrived as our own copy: it becomes the call, under an id of this thread's.
    const call = then.call;
    call.args[then.at] = value;
    call.id = relay.sentId = nextId();
    const args = call.args;
    const go = (link: ReplicaLink) => {
      if (!this.#live(relay)) return; // cancelled while the link was on its way
      relay.link = link;
      link.request(call, {
        receive: (msg) => {
          if (msg.k !== K.Ok && msg.k !== K.Err) return false;
          // A new message (the link still files this one under its own id): the caller's id for it.
          this.#answer(relay, msg.k === K.Ok ? { k: K.Ok, id: then.id, v: msg.v } : { k: K.Err, id: then.id, e: (msg as ErrMsg).e });
          return true;
        },
        fail: (err) => this.#answer(relay, { k: K.Err, id: then.id, e: errorToData(err) }),
      }, undefined, isJsonSafe(args));
    };
    const link = this.link(then.to);
    if (link instanceof Promise) link.then(go, (err: Error) => this.#answer(relay, { k: K.Err, id: then.id, e: errorToData(err) }));
    else go(link);
  }

  #live(relay: Relay): boolean {
    return this.#byCaller.get(relay.from.caller)?.get(relay.then.id) === relay;
  }

  /** The one answer of a relay: it leaves the index, then goes to the caller. */
  #answer(relay: Relay, msg: ToCaller): void {
    if (!this.#live(relay)) return;
    const m = this.#byCaller.get(relay.from.caller)!;
    m.delete(relay.then.id);
    if (m.size === 0) this.#byCaller.delete(relay.from.caller);
    relay.from.port.send(msg, undefined, msg.k !== K.Ok || isJsonSafe(msg.v));
  }
}
