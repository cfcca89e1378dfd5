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
 * NATS core delivers at most once: when the connection to the NATS server drops (a NATS restart),
 * messages in flight are lost, and so are those sent to a node before it has subscribed again.
 * A lost call would hold its caller's slot at that replica forever (maxOngoingRequests), so after
 * a reconnect every link across the bridge is made anew (`onReconnect`): calls in flight on the
 * old one fail with ReplicaDiedError instead of waiting forever, and the new port starts clean.
 * Each caller port has an epoch, sent with its batches and answers, so the replica's node opens a
 * fresh port into the replica for it and answers to an old port are dropped.
 */
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { fragment, Reassembly } from "./fragments.ts";
import { subscribe } from "./subscribe.ts";
import type { Subjects } from "./options.ts";
import type { PortLike } from "../wire/port.ts";

/**
 * How long after its own reconnect a node makes its links anew a second time: by then the other
 * nodes, which retry every 250 ms (connection.ts), are subscribed again.
 */
const RESUBSCRIBED_WITHIN_MS = 2000;

/** Gives a local replica a port from caller `thread` (as the controller's connect does). */
export type AcceptLocal = (replicaId: string, thread: string, port: MessagePort) => void;

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
  /** Ports into local replicas opened before the NATS connection dropped: closed once it is back. */
  #stale: string[] = [];
  #settle: ReturnType<typeof setTimeout> | undefined;
  readonly #serving = new Map<string, Subscription>();
  readonly #answers: Subscription;
  /** Answers bigger than one NATS message, half received, by thread and replica. */
  readonly #answerParts = new Reassembly();

  constructor(
    readonly nc: NatsConnection,
    readonly subjects: Subjects,
    readonly nodeId: string,
    readonly acceptLocal: AcceptLocal,
    /** Makes every caller link across the bridge anew (agent.ts): after a reconnect, messages may have been lost. */
    readonly onReconnect: () => void = () => {},
  ) {
    this.#answers = subscribe(nc, subjects.caller(nodeId), (msg) => {
      const whole = this.#answerParts.receive(msg.data, 3);
      if (!whole) return;
      const [thread, replica, epoch, batch] = whole as [string, string, number, unknown];
      const port = this.#out.get(`${thread}\n${replica}`);
      if (port?.epoch === epoch) port.deliver(batch);
    });
    void this.#watch();
  }

  async #watch(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === "disconnect") this.#stale = [...this.#in.keys()];
      else if (s.type === "reconnect") this.#reconnected();
    }
  }

  /**
   * Back on NATS: the replica side closes the ports it had before (their callers make new ones),
   * and the caller side makes its links anew now, and once more when the other nodes have had
   * time to subscribe again (until then, what is sent to them is lost too).
   */
  #reconnected(): void {
    for (const key of this.#stale) {
      this.#in.get(key)?.port.close();
      this.#in.delete(key);
    }
    this.#stale = [];
    this.#answerParts.forget(() => true);
    this.onReconnect();
    clearTimeout(this.#settle);
    this.#settle = setTimeout(() => this.onReconnect(), RESUBSCRIBED_WITHIN_MS);
    (this.#settle as { unref?: () => void }).unref?.();
  }

  /** Caller side: the (thread, replica) pairs with a port across the bridge. */
  outgoing(): [thread: string, replica: string][] {
    return [...this.#out.keys()].map((key) => key.split("\n") as [string, string]);
  }

  /** The largest message the NATS server takes (nats.js throws on a bigger publish); bigger batches go as fragments. */
  get maxPayload(): number {
    return this.nc.info?.max_payload ?? 1024 * 1024;
  }

  /** Caller side: a port for local `thread` to remote `replica`. */
  open(thread: string, replica: string): PortLike {
    const key = `${thread}\n${replica}`;
    this.#out.get(key)?.close();
    const port = new NatsPort(this, thread, this.subjects.replica(replica), this.subjects.caller(this.nodeId), ++this.#epoch);
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

  #inbound(replicaId: string, reply: string, thread: string, epoch: number): MessagePort {
    const key = `${replicaId}\n${reply}\n${thread}`;
    const known = this.#in.get(key);
    if (known?.epoch === epoch) return known.port;
    // A new caller port (the caller made its link anew): the old one's calls are failed there.
    known?.port.close();
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = (ev) => {
      for (const m of fragment([thread, replicaId, epoch], ev.data, this.maxPayload)) this.nc.publish(reply, m);
    };
    this.#in.set(key, { epoch, port: port1 });
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
    for (const sub of this.#serving.values()) sub.unsubscribe();
    clearTimeout(this.#settle);
    for (const port of this.#out.values()) port.close();
    for (const { port } of this.#in.values()) port.close();
    this.#serving.clear();
    this.#out.clear();
    this.#in.clear();
  }
}
