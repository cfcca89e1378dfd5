/**
 * The caller's end of the port to one replica: sends calls, routes each answer to the
 * call waiting for it, counts what is in flight, and fails everything if the replica dies.
 */
import type { Transferable } from "../../sdk/transfer.ts";
import { BatchedPort, type PortLike } from "./port.ts";
import { K, type ToCaller, type ToReplica } from "./protocol.ts";
import { errorToData } from "../../sdk/errors.ts";

/** Whatever waits for answers to one id (a call, a stream, a pull). */
export interface Receiver {
  /** Returns true when this was the last message for the id. */
  receive(msg: ToCaller): boolean;
  fail(err: Error): void;
}

export class ReplicaLink {
  /** Requests sent and not yet answered, counted against `maxOngoingRequests`. */
  inFlight = 0;
  dead = false;
  /** On another node (the port is bridged over NATS): routers use it when no replica on this node has room. */
  remote = false;
  /** Multiplexed model ids the replica holds or is loading, as it last reported. */
  models: ReadonlySet<string> = new Set();
  readonly #receivers = new Map<number, Receiver>();
  /** Whether anything was ever sent on this port. */
  #used = false;
  #death: Error | undefined;
  readonly #port: BatchedPort<ToReplica, ToCaller>;
  /** Called when a slot frees up (routers drain their queues). */
  readonly #onFree = new Set<() => void>();

  constructor(
    readonly replicaId: string,
    port: PortLike,
  ) {
    this.#port = new BatchedPort<ToReplica, ToCaller>(port, (msg) => this.#receive(msg));
    this.#port.onUnsendable = (msg, err) => {
      const r = this.#receivers.get(msg.id);
      if (!r) return;
      this.#receivers.delete(msg.id);
      const e = new TypeError(`arguments cannot be sent to a replica: ${(err as Error).message ?? err}`);
      r.receive({ k: K.Err, id: msg.id, e: errorToData(e) });
    };
  }

  /**
   * Sends a message whose answers go to `receiver`; `json`: it is plain JSON (see json.ts);
   * `coalesce`: it may wait for the event loop's turn to share a message (see port.ts).
   */
  request(msg: ToReplica, receiver: Receiver, transfer?: Transferable[], json = false, coalesce = false): void {
    // A kept value pulled after its replica died: nothing will answer.
    if (this.#death) return receiver.fail(this.#death);
    this.#receivers.set(msg.id, receiver);
    this.#used = true;
    this.#port.send(msg, transfer, json, coalesce);
  }

  /** Answers to `id` go to `receiver`, though no message of that id is sent (a `Then` riding on a call). */
  expect(id: number, receiver: Receiver): void {
    if (this.#death) return receiver.fail(this.#death);
    this.#receivers.set(id, receiver);
  }

  /**
   * Sends a message that gets no answer of its own (control messages are plain JSON);
   * `coalesce`: see port.ts; `transfer`: buffers that move with it.
   */
  post(msg: ToReplica, json = true, coalesce = false, transfer?: Transferable[]): void {
    this.#used = true;
    this.#port.send(msg, transfer, json, coalesce);
  }

  /**
   * Makes sure the replica has its end of this port before answers are expected on it that no
   * message on it asked for (protocol.ts, rule 6): a port never used gets an `Open`.
   */
  open(): void {
    if (!this.#used) this.post({ k: K.Open, id: 0 });
  }

  /** Sends what waits in the batch now. */
  flush(): void {
    this.#port.flush();
  }

  /** Whether `msg` has not left yet (it waits in this tick's batch), so changing it still counts. */
  holds(msg: ToReplica): boolean {
    return this.#port.holds(msg);
  }

  /** Stops waiting for answers to `id` (a pull withdrawn: none will come, or a late one is dropped). */
  forget(id: number): void {
    this.#receivers.delete(id);
  }

  /** Ids waiting for answers (for tests that check nothing leaks). */
  get waiting(): number {
    return this.#receivers.size;
  }

  #receive(msg: ToCaller): void {
    const r = this.#receivers.get(msg.id);
    if (r && r.receive(msg)) this.#receivers.delete(msg.id);
  }

  onFree(listener: () => void): () => void {
    this.#onFree.add(listener);
    return () => this.#onFree.delete(listener);
  }

  /** A counted request finished: let routers send what they queued. */
  release(): void {
    this.inFlight--;
    for (const l of this.#onFree) l();
  }

  /** The replica is gone: everything waiting on it fails with `err`. */
  die(err: Error): void {
    if (this.dead) return;
    this.dead = true;
    this.#death = err;
    const receivers = [...this.#receivers.values()];
    this.#receivers.clear();
    this.#port.close();
    for (const r of receivers) r.fail(err);
  }
}
