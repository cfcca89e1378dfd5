/**
 * The data plane between nodes. Within a node every caller thread has a MessagePort to every
 * replica it calls; across nodes the caller's port ends here instead of in the replica, and its
 * batches (the same arrays or JSON strings the threads post; see wire/port.ts) travel as NATS
 * messages on the replica's subject, answered on the caller node's subject. On the replica's
 * node, the first batch from a caller thread opens a port into the replica as if the caller were
 * local; the replica never knows the difference.
 *
 * Invariant: one NATS publisher per direction of each caller-replica pair, and NATS keeps one
 * publisher's order on a subject, so each port's messages arrive in the order they were posted,
 * as MessagePorts promise. Different pairs (a caller's call and a puller's pull) may overtake each
 * other, which the protocol allows (wire/protocol.ts, rules 1-5).
 *
 * NATS core delivers at most once: what is in flight when a node's connection to the NATS server
 * drops (a NATS restart, or the server cutting off a slow consumer) is lost, and so is what other
 * nodes send it before it has subscribed again. A lost call would hold its caller's slot at that
 * replica forever (maxOngoingRequests), so links are made anew (`relink`: calls in flight on the
 * old one fail with ReplicaDiedError, the new port starts clean). Each caller port has an epoch,
 * sent with its batches and answers, so answers meant for an old port are dropped (`#inbound`).
 *
 * Invariant: after a node's connection dropped, every link between it and another node is made
 * anew at a moment when both are subscribed. A node back on NATS has its subscriptions again
 * before anything it publishes (nats.js sends them first on a new connection); it then makes its
 * own links anew and says it is back (`<cluster>.ctl.back`), and every node that hears it makes
 * anew its links to replicas there. A node that does not hear it was itself cut off, and makes
 * all its links anew when it is back. So whichever of the two comes back last, the last remake
 * comes after both subscribed, however long either took (a fixed delay was not enough: a node
 * slow to reconnect on a loaded machine lost calls made in between, and they waited forever).
 */
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { decodeWire, encodeWire } from "./codec.ts";
import { fragment, Reassembly } from "./fragments.ts";
import { subscribe } from "./subscribe.ts";
import type { Subjects } from "./options.ts";
import type { PortLike } from "../wire/port.ts";

/** Gives a local replica a port from caller `thread` (as the controller's connect does). */
export type AcceptLocal = (replicaId: string, thread: string, port: MessagePort) => void;

/** Makes local `thread`'s link to `replica` (on node `node`) anew: what was in flight on the old one may be lost. */
export type Relink = (thread: string, replica: string, node: string) => void;

/**
 * The caller's end of a link to a replica on another node: a batch posted here leaves at once as
 * one NATS message (encoded as it is posted: a buffer handed over with the batch is read before
 * anything else runs); answers are delivered to `onmessage` as they arrive.
 */
class NatsPort implements PortLike {
  onmessage: MessagePort["onmessage"] = null;
  closed = false;

  constructor(
    readonly bridge: Bridge,
    readonly thread: string,
    readonly replica: string,
    /** The node the replica runs on. */
    readonly node: string,
    readonly subject: string,
    readonly reply: string,
    readonly epoch: number,
  ) {}

  postMessage(batch: unknown): void {
    if (this.closed) return;
    for (const m of fragment([this.thread, this.epoch], batch, this.bridge.maxPayload)) this.bridge.nc.publish(this.subject, m, { reply: this.reply });
  }

  deliver(batch: unknown): void {
    this.onmessage?.call(this as unknown as MessagePort, { data: batch } as Parameters<NonNullable<MessagePort["onmessage"]>>[0]);
  }

  close(): void {
    this.closed = true;
    this.onmessage = null;
  }
}

export class Bridge {
  /** Caller side: local threads' ports to remote replicas, by thread and replica. */
  readonly #out = new Map<string, NatsPort>();
  /** Replica side: ports into local replicas from remote threads, by replica, answer subject and thread; the caller port's epoch. */
  readonly #in = new Map<string, { epoch: number; port: MessagePort }>();
  /** Caller ports' epochs: a random start, so a node started again under the same id does not reuse them. */
  #epoch = Math.floor(Math.random() * 2 ** 30);
  readonly #serving = new Map<string, Subscription>();
  readonly #answers: Subscription;
  readonly #back: Subscription;
  /** Answers bigger than one NATS message, half received, by thread and replica. */
  readonly #answerParts = new Reassembly();

  constructor(
    readonly nc: NatsConnection,
    readonly subjects: Subjects,
    readonly nodeId: string,
    readonly acceptLocal: AcceptLocal,
    /** Makes a caller link across the bridge anew (agent.ts): messages on it may have been lost. */
    readonly relink: Relink,
  ) {
    this.#answers = subscribe(nc, subjects.caller(nodeId), (msg) => {
      const whole = this.#answerParts.receive(msg.data, 3);
      if (!whole) return;
      const [thread, replica, epoch, batch] = whole as [string, string, number, unknown];
      const port = this.#out.get(`${thread}\n${replica}`);
      if (port?.epoch === epoch) port.deliver(batch);
    });
    this.#back = subscribe(nc, subjects.back, (msg) => {
      const node = decodeWire(msg.data);
      if (typeof node === "string" && node !== nodeId) this.#relinkTo((at) => at === node);
    });
    void this.#watch();
  }

  async #watch(): Promise<void> {
    for await (const s of this.nc.status()) if (s.type === "reconnect") this.#reconnected();
  }

  /**
   * Back on NATS (subscribed again, see the invariant above): this node's links are made anew,
   * then the others hear it is back and make theirs to it. Ports into local replicas stay: a
   * caller's new link replaces its old one here when its first batch arrives.
   */
  #reconnected(): void {
    this.#answerParts.forget(() => true);
    this.#relinkTo(() => true);
    this.nc.publish(this.subjects.back, encodeWire(this.nodeId));
  }

  /** Makes anew every link of a local thread to a replica on a node that `at` matches. */
  #relinkTo(at: (node: string) => boolean): void {
    for (const port of [...this.#out.values()]) if (at(port.node)) this.relink(port.thread, port.replica, port.node);
  }

  /** The largest message the NATS server takes (nats.js throws on a bigger publish); bigger batches go as fragments. */
  get maxPayload(): number {
    return this.nc.info?.max_payload ?? 1024 * 1024;
  }

  /** Caller side: a port for local `thread` to `replica`, on node `node`. */
  open(thread: string, replica: string, node: string): PortLike {
    const key = `${thread}\n${replica}`;
    this.#out.get(key)?.close();
    const port = new NatsPort(this, thread, replica, node, this.subjects.replica(replica), this.subjects.caller(this.nodeId), ++this.#epoch);
    this.#out.set(key, port);
    return port;
  }

  /** Replica side: calls to local replica `replicaId` come in from every node. */
  serve(replicaId: string): void {
    if (this.#serving.has(replicaId)) return;
    // Calls bigger than one NATS message, half received, by caller thread (one set per replica).
    const parts = new Reassembly();
    const sub = subscribe(this.nc, this.subjects.replica(replicaId), (msg) => {
      if (!msg.reply) return;
      const whole = parts.receive(msg.data, 2);
      if (!whole) return;
      const [thread, epoch, batch] = whole as [string, number, unknown];
      this.#inbound(replicaId, msg.reply, thread, epoch).postMessage(batch);
    });
    this.#serving.set(replicaId, sub);
  }

  /**
   * The port into local `replicaId` from remote `thread`. One port serves every epoch of the
   * caller's link: a new epoch (the caller made its link anew) only changes what answers are
   * sent with. So an answer always carries the caller's latest epoch, whichever way it left the
   * replica; the calls of an old link were failed at the caller, which drops their late answers
   * by id (a call id is never reused within a thread). A fresh port per epoch lost answers: a
   * call another replica sends on for the caller (wire/protocol.ts, rule 6) could reach the
   * replica before the new port did and be answered on the old one, under the old epoch, which
   * the caller dropped; each such call then held a slot forever, and a chain stopped when all
   * were held.
   */
  #inbound(replicaId: string, reply: string, thread: string, epoch: number): MessagePort {
    const key = `${replicaId}\n${reply}\n${thread}`;
    const known = this.#in.get(key);
    if (known) {
      known.epoch = epoch;
      return known.port;
    }
    const { port1, port2 } = new MessageChannel();
    const link = { epoch, port: port1 };
    port1.onmessage = (ev) => {
      for (const m of fragment([thread, replicaId, link.epoch], ev.data, this.maxPayload)) this.nc.publish(reply, m);
    };
    this.#in.set(key, link);
    this.acceptLocal(replicaId, thread, port2);
    return port1;
  }

  /**
   * `id` (a replica, or a caller thread) is gone: its ports here close, and a replica stops
   * being served. Its callers and the threads it called hear of it from the controller.
   */
  gone(id: string): void {
    this.#answerParts.forget(([thread, replica]) => thread === id || replica === id);
    this.#serving.get(id)?.unsubscribe();
    this.#serving.delete(id);
    for (const [key, port] of this.#out) {
      const [thread, replica] = key.split("\n");
      if (thread === id || replica === id) {
        port.close();
        this.#out.delete(key);
      }
    }
    for (const [key, { port }] of this.#in) {
      const parts = key.split("\n");
      if (parts[0] === id || parts[2] === id) {
        port.close();
        this.#in.delete(key);
      }
    }
  }

  /** Every port into a local replica from `node`'s threads closes (that node is dead). */
  nodeGone(node: string): void {
    const reply = this.subjects.caller(node);
    for (const [key, { port }] of this.#in) {
      if (key.split("\n")[1] === reply) {
        port.close();
        this.#in.delete(key);
      }
    }
  }

  close(): void {
    this.#answers.unsubscribe();
    this.#back.unsubscribe();
    for (const sub of this.#serving.values()) sub.unsubscribe();
    for (const port of this.#out.values()) port.close();
    for (const { port } of this.#in.values()) port.close();
    this.#serving.clear();
    this.#out.clear();
    this.#in.clear();
  }
}
