/**
 * What every node (the head too) does for the cluster's data plane: make the ports between
 * its threads and replicas, local or bridged over NATS, as the head asks.
 */
import * as Comlink from "comlink";
import type { CallerThread } from "../controller/controller.ts";
import type { ManagedReplica } from "../controller/worker.ts";
import { Bridge } from "./bridge.ts";
import type { NatsConnection } from "./connection.ts";
import type { Subjects } from "./options.ts";
import type { PortLike } from "../wire/port.ts";

/** The threads of this node: its main thread (the proxy's client) and its replicas' Workers. */
export interface LocalThreads {
  mainName: string;
  main: CallerThread;
  replica(id: string): ManagedReplica | undefined;
  replicas(): Iterable<ManagedReplica>;
}

export class NodeAgent {
  readonly bridge: Bridge;
  /** Every link made here, `thread\nreplica` -> the replica's node: a link asked for again is kept as it is. */
  readonly #links = new Map<string, string>();

  constructor(
    nc: NatsConnection,
    subjects: Subjects,
    readonly nodeId: string,
    readonly threads: LocalThreads,
  ) {
    this.bridge = new Bridge(
      nc,
      subjects,
      nodeId,
      (replicaId, thread, port) => this.#accept(replicaId, thread, port),
      // Messages on the link may have been lost: what was in flight on it fails with
      // ReplicaDiedError ("was reconnected") rather than holding its slot forever.
      (thread, replica, node) => this.#link(thread, replica, node),
    );
  }

  /** Gives local `thread` a port to `replica`, which runs on `replicaNode` (this one or another). */
  link(thread: string, replica: string, replicaNode: string): void {
    // A restarted head connects everything again; what is in flight on a link must not be cut.
    const key = `${thread}\n${replica}`;
    if (this.#links.has(key)) return;
    this.#links.set(key, replicaNode);
    this.#link(thread, replica, replicaNode);
  }

  /** Gives local `thread` a new port to `replica` on `node`, in place of the one it had. */
  #link(thread: string, replica: string, node: string): void {
    const remote = node !== this.nodeId;
    if (thread === this.threads.mainName) {
      if (remote) return this.threads.main.addLink(replica, this.bridge.open(thread, replica, node), true);
      const { port1, port2 } = new MessageChannel();
      this.#accept(replica, thread, port2);
      return this.threads.main.addLink(replica, port1, false);
    }
    const r = this.threads.replica(thread);
    if (!r?.alive) return;
    const { port1, port2 } = new MessageChannel();
    if (remote) pipe(port2, this.bridge.open(thread, replica, node));
    else this.#accept(replica, thread, port2);
    void r.host.addLink(replica, Comlink.transfer(port1, [port1]), remote).catch(() => {});
  }

  #accept(replicaId: string, thread: string, port: MessagePort): void {
    const r = this.threads.replica(replicaId);
    if (r?.alive) void r.host.accept(Comlink.transfer(port, [port]), thread).catch(() => {});
    else port.close();
  }

  /**
   * `id` died or stopped somewhere in the cluster: ports to and from it close here, and every
   * thread of this node fails what it had in flight there.
   */
  gone(id: string, message: string): void {
    this.drop(id);
    this.threads.main.replicaDied(id, message);
    for (const r of this.threads.replicas()) if (r.alive && r.id !== id) void r.host.replicaDied(id, message).catch(() => {});
  }

  /** Ports to and from `id` close here (the head's controller tells the head's threads itself). */
  drop(id: string): void {
    for (const key of this.#links.keys()) {
      const [thread, replica] = key.split("\n");
      if (thread === id || replica === id) this.#links.delete(key);
    }
    this.bridge.gone(id);
  }

  /** The nodes this node's threads have links to (its own among them). */
  linkedNodes(): Set<string> {
    return new Set(this.#links.values());
  }

  /**
   * Node `node` is gone and nobody will say which of its replicas died (it was the head): every
   * link here to a replica there fails what it has in flight, but those to `alive` (the replicas
   * of the head that took its place, which may have linked this node's threads already).
   */
  nodeDead(node: string, message: string, alive: ReadonlySet<string> = new Set()): void {
    const dead = new Set<string>();
    for (const [key, at] of this.#links) if (at === node && !alive.has(key.split("\n")[1]!)) dead.add(key.split("\n")[1]!);
    for (const id of dead) this.gone(id, message);
  }
}

/** Joins a replica thread's port to its bridged port to another node, both ways. */
function pipe(port: MessagePort, bridged: PortLike): void {
  port.onmessage = (ev) => bridged.postMessage(ev.data, []);
  bridged.onmessage = (ev) => port.postMessage(ev.data);
}
