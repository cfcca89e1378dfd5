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
 */
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { fragment, Reassembly } from "./fragments.ts";
import type { Subjects } from "./options.ts";
import type { PortLike } from "../wire/port.ts";

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
  ) {}

  postMessage(batch: unknown): void {
    if (this.closed) return;
    for (const m of fragment([this.thread], batch, this.bridge.maxPayload)) this.bridge.nc.publish(this.subject, m, { reply: this.reply });
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
  /** Replica side: ports into local replicas from remote threads, by replica, answer subject and thread. */
  readonly #in = new Map<string, MessagePort>();
  readonly #serving = new Map<string, Subscription>();
  readonly #answers: Subscription;
  /** Answers bigger than one NATS message, half received, by thread and replica. */
  readonly #answerParts = new Reassembly();

  constructor(
    readonly nc: NatsConnection,
    readonly subjects: Subjects,
    readonly nodeId: string,
    readonly acceptLocal: AcceptLocal,
  ) {
    this.#answers = nc.subscribe(subjects.caller(nodeId), {
      callback: (err, msg) => {
        if (err) return;
        const whole = this.#answerParts.receive(msg.data, 2);
        if (!whole) return;
        const [thread, replica, batch] = whole as [string, string, unknown];
        this.#out.get(`${thread}\n${replica}`)?.deliver(batch);
      },
    });
  }

  /** The largest message the NATS server takes (nats.js throws on a bigger publish); bigger batches go as fragments. */
  get maxPayload(): number {
    return this.nc.info?.max_payload ?? 1024 * 1024;
  }

  /** Caller side: a port for local `thread` to remote `replica`. */
  open(thread: string, replica: string): PortLike {
    const key = `${thread}\n${replica}`;
    this.#out.get(key)?.close();
    const port = new NatsPort(this, thread, this.subjects.replica(replica), this.subjects.caller(this.nodeId));
    this.#out.set(key, port);
    return port;
  }

  /** Replica side: calls to local replica `replicaId` come in from every node. */
  serve(replicaId: string): void {
    if (this.#serving.has(replicaId)) return;
    // Calls bigger than one NATS message, half received, by caller thread (one set per replica).
    const parts = new Reassembly();
    const sub = this.nc.subscribe(this.subjects.replica(replicaId), {
      callback: (err, msg) => {
        if (err || !msg.reply) return;
        const whole = parts.receive(msg.data, 1);
        if (!whole) return;
        const [thread, batch] = whole as [string, unknown];
        this.#inbound(replicaId, msg.reply, thread).postMessage(batch);
      },
    });
    this.#serving.set(replicaId, sub);
  }

  #inbound(replicaId: string, reply: string, thread: string): MessagePort {
    const key = `${replicaId}\n${reply}\n${thread}`;
    let port = this.#in.get(key);
    if (!port) {
      const { port1, port2 } = new MessageChannel();
      port1.onmessage = (ev) => {
        for (const m of fragment([thread, replicaId], ev.data, this.maxPayload)) this.nc.publish(reply, m);
      };
      this.#in.set(key, (port = port1));
      this.acceptLocal(replicaId, thread, port2);
    }
    return port;
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
    for (const [key, port] of this.#in) {
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
    for (const [key, port] of this.#in) {
      if (key.split("\n")[1] === reply) {
        port.close();
        this.#in.delete(key);
      }
    }
  }

  close(): void {
    this.#answers.unsubscribe();
    for (const sub of this.#serving.values()) sub.unsubscribe();
    for (const port of [...this.#out.values(), ...this.#in.values()]) port.close();
    this.#serving.clear();
    this.#out.clear();
    this.#in.clear();
  }
}
