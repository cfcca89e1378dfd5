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
 *
 * A message can also be lost while neither connection drops (between the servers of a NATS
 * cluster, say). Each direction of a link numbers its messages, and a side whose messages wait too
 * long for their ack asks the other (sequence.ts): a loss is noticed within seconds, and the link
 * is made anew as after a reconnect.
 */
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { decodeWire, encodeWire } from "./codec.ts";
import { fragment, Reassembly } from "./fragments.ts";
import { Mark, type Numbered, PROBE_AFTER_MS, Sequence } from "./sequence.ts";
import { logger } from "../log/logger.ts";
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
  /** This end's numbers (sequence.ts). */
  readonly seq = new Sequence();

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
    for (const m of fragment([this.thread, this.bridge.life, this.epoch], this.seq.number(batch), this.bridge.maxPayload)) this.bridge.nc.publish(this.subject, m, { reply: this.reply });
  }

  sendMark(kind: Mark): void {
    if (!this.closed) this.bridge.nc.publish(this.subject, encodeWire([this.thread, this.bridge.life, this.epoch, this.seq.mark(kind)]), { reply: this.reply });
  }

  deliver(batch: unknown): void {
    this.onmessage?.call(this as unknown as MessagePort, { data: batch } as Parameters<NonNullable<MessagePort["onmessage"]>>[0]);
  }

  close(): void {
    this.closed = true;
    this.onmessage = null;
  }
}

/** Replica side: the port into a local replica from one remote caller thread. */
interface Inbound {
  replicaId: string;
  /** The caller node's answer subject. */
  reply: string;
  thread: string;
  /** The caller's process (its bridge's life). */
  life: number;
  /** The caller's link's latest epoch: answers carry it. */
  epoch: number;
  port: MessagePort;
  /** Numbers of the link's current epoch. */
  seq: Sequence;
  /** A message of this epoch was lost: nothing more of it is delivered, and the caller is told. */
  lost: boolean;
}

export class Bridge {
  /** Caller side: local threads' ports to remote replicas, by thread and replica. */
  readonly #out = new Map<string, NatsPort>();
  /** Replica side: ports into local replicas from remote threads, by replica, answer subject and thread. */
  readonly #in = new Map<string, Inbound>();
  /** Caller ports' epochs: a random start, so a node started again under the same id does not reuse them. */
  #epoch = Math.floor(Math.random() * 2 ** 30);
  /**
   * This process, as its callers' messages name it: a thread of a node started again under the
   * same id is a new caller for the replicas it calls (its call ids start again), never a new
   * epoch of the old one (`#inbound`).
   */
  readonly life = Math.floor(Math.random() * 2 ** 48);
  readonly #serving = new Map<string, Subscription>();
  readonly #answers: Subscription;
  readonly #back: Subscription;
  /** Answers bigger than one NATS message, half received, by thread and replica. */
  readonly #answerParts = new Reassembly();
  readonly #probes: ReturnType<typeof setInterval>;

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
      const [thread, replica, epoch, numbered] = whole as [string, string, number, Numbered];
      const port = this.#out.get(`${thread}\n${replica}`);
      if (!port) return;
      const body = numbered[2];
      // A probe on an epoch this end has left (its first message there was lost): the count on the current one moves the other end on.
      if (port.epoch !== epoch) return void (body === Mark.Probe && port.sendMark(Mark.Count));
      if (body === Mark.Lost) return this.#lost(port, `a message from ${thread} to replica ${replica} (node ${port.node}) was lost`);
      if (!port.seq.receive(numbered)) return this.#lost(port, `an answer from replica ${replica} (node ${port.node}) to ${thread} was lost`);
      if (body === Mark.Probe) port.sendMark(Mark.Count);
      else if (typeof body !== "number") port.deliver(body);
    });
    this.#back = subscribe(nc, subjects.back, (msg) => {
      const node = decodeWire(msg.data);
      if (typeof node === "string" && node !== nodeId) this.#relinkTo((at) => at === node);
    });
    void this.#watch();
    this.#probes = setInterval(() => this.#probe(), PROBE_AFTER_MS / 2);
    (this.#probes as { unref?: () => void }).unref?.();
  }

  /** Each link whose messages wait too long for their ack asks the other end (sequence.ts). */
  #probe(): void {
    const now = performance.now();
    for (const port of this.#out.values()) if (port.seq.probeDue(now)) port.sendMark(Mark.Probe);
    for (const link of this.#in.values()) if (!link.lost && link.seq.probeDue(now)) this.#markTo(link, Mark.Probe);
  }

  /**
   * Caller side: a message on `port`'s link was lost (NATS delivers at most once). The link is
   * made anew: what was in flight on it fails with ReplicaDiedError instead of waiting forever.
   */
  #lost(port: NatsPort, what: string): void {
    logger.warn(`${what}: NATS delivers at most once; the link is made anew and the calls in flight on it fail`);
    const key = `${port.thread}\n${port.replica}`;
    this.relink(port.thread, port.replica, port.node);
    // A thread that is no longer here gets no new link: the old one goes all the same.
    if (this.#out.get(key) === port) {
      port.close();
      this.#out.delete(key);
    }
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
    const old = this.#out.get(key);
    old?.close();
    const port = new NatsPort(this, thread, replica, node, this.subjects.replica(replica), this.subjects.caller(this.nodeId), ++this.#epoch);
    this.#out.set(key, port);
    // A link made anew tells the replica's node at once, so answers there take its epoch before any call on it is sent.
    if (old) port.sendMark(Mark.Count);
    return port;
  }

  /** Replica side: calls to local replica `replicaId` come in from every node. */
  serve(replicaId: string): void {
    if (this.#serving.has(replicaId)) return;
    // Calls bigger than one NATS message, half received, by caller thread (one set per replica).
    const parts = new Reassembly();
    const sub = subscribe(this.nc, this.subjects.replica(replicaId), (msg) => {
      if (!msg.reply) return;
      const whole = parts.receive(msg.data, 3);
      if (!whole) return;
      const [thread, life, epoch, numbered] = whole as [string, number, number, Numbered];
      const link = this.#inbound(replicaId, msg.reply, thread, life, epoch);
      const body = numbered[2];
      if (link.lost) return void (body === Mark.Probe && this.#markTo(link, Mark.Lost));
      if (!link.seq.receive(numbered)) {
        logger.warn(`a message from ${thread} (answered on ${msg.reply}) to replica ${replicaId} was lost: NATS delivers at most once; the caller is told to make its link anew`);
        link.lost = true;
        return this.#markTo(link, Mark.Lost);
      }
      if (body === Mark.Probe) this.#markTo(link, Mark.Count);
      else if (typeof body !== "number") link.port.postMessage(body);
    });
    this.#serving.set(replicaId, sub);
  }

  /**
   * The port into local `replicaId` from remote `thread`. One port serves every epoch of the
   * caller's link: a new epoch (the caller made its link anew) only changes what answers are
   * sent with. So an answer always carries the caller's latest epoch, whichever way it left the
   * replica; the calls of an old link were failed at the caller, which drops their late answers
   * by id (a thread never reuses a call id within its life). A fresh port per epoch lost answers: a
   * call another replica sends on for the caller (wire/protocol.ts, rule 6) could reach the
   * replica before the new port did and be answered on the old one, under the old epoch, which
   * the caller dropped; each such call then held a slot forever, and a chain stopped when all
   * were held.
   */
  #inbound(replicaId: string, reply: string, thread: string, life: number, epoch: number): Inbound {
    const key = `${replicaId}\n${reply}\n${thread}`;
    const known = this.#in.get(key);
    if (known?.life === life) {
      // The caller made its link anew: numbers start again, and a loss on the old one is past.
      if (known.epoch !== epoch) Object.assign(known, { epoch, seq: new Sequence(), lost: false });
      return known;
    }
    // A new life of the caller thread (its node started again under its id) is a new caller:
    // answers to its old life's calls (whose ids it reuses) go on the old port, under an epoch it drops.
    known?.port.close();
    const { port1, port2 } = new MessageChannel();
    const link: Inbound = { replicaId, reply, thread, life, epoch, port: port1, seq: new Sequence(), lost: false };
    port1.onmessage = (ev) => {
      for (const m of fragment([thread, replicaId, link.epoch], link.seq.number(ev.data), this.maxPayload)) this.nc.publish(reply, m);
    };
    this.#in.set(key, link);
    this.acceptLocal(replicaId, thread, port2);
    return link;
  }

  #markTo(link: Inbound, kind: Mark): void {
    this.nc.publish(link.reply, encodeWire([link.thread, link.replicaId, link.epoch, link.seq.mark(kind)]));
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
    clearInterval(this.#probes);
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
