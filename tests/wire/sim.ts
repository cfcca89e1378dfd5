/**
 * A deterministic simulation of the data plane: real Clients, Routers, ReplicaLinks and
 * Replicas in one thread, joined by simulated ports whose messages the scheduler delivers one
 * batch at a time, in an order drawn from a seeded generator. Each port is FIFO, as a
 * MessagePort is; across ports, anything goes. Method completions, link set-ups and death
 * notices are events of the same schedule, so they interleave with messages too.
 */
import { DEFAULT_OPTIONS } from "../../sdk/options.ts";
import type { DeploymentSpec } from "../../sdk/graph.ts";
import type { HandleTarget } from "../../sdk/runtime.ts";
import { Client, targetKey } from "../../runtime/router/client.ts";
import { type CallerPort, Replica } from "../../runtime/replica/replica.ts";
import { BatchedPort } from "../../runtime/wire/port.ts";
import type { ToCaller, ToReplica } from "../../runtime/wire/protocol.ts";
import { rng } from "../random.ts";


type Event = () => void;

/** SIM_TRACE=1 prints every batch as it is delivered. */
const TRACE = !!process.env.SIM_TRACE;

/** One direction of a simulated port: a FIFO of posted batches. */
class Lane {
  constructor(readonly name: string) {}
  readonly queue: unknown[] = [];
  target: SimPort | undefined;
  closed = false;
  /** Not listened to yet: batches wait in it (a replica that has not accepted its end of the port). */
  held = false;
  /** Runs before the first batch is delivered: a replica whose end opens with it (between nodes). */
  onFirst: (() => void) | undefined;
}

/** The half of a MessagePort that BatchedPort uses. */
class SimPort {
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  constructor(
    readonly out: Lane,
    readonly sim: Sim,
  ) {}
  postMessage(data: unknown): void {
    if (this.out.closed) return;
    // Structured clone, as postMessage does (a JSON string batch is already a copy).
    this.out.queue.push(typeof data === "string" ? data : structuredClone(data));
    this.sim.ready(this.out);
  }
  close(): void {
    this.out.closed = true;
    this.out.queue.length = 0;
  }
}

export interface SimReplica {
  id: string;
  deployment: string;
  replica: Replica;
  client: Client;
  dead: boolean;
}

export class Sim {
  readonly random: () => number;
  /** Lanes with batches to deliver, and one-off events (completions, connects, notices). */
  readonly #lanes = new Set<Lane>();
  readonly #events: Event[] = [];
  readonly threads = new Map<string, Client>();
  readonly replicas = new Map<string, SimReplica>();
  readonly #sets = new Map<string, string[]>();
  readonly #connected = new Set<string>();
  steps = 0;

  constructor(
    seed: number,
    readonly appName = "sim",
    readonly limits = { maxOngoingRequests: 2, maxQueuedRequests: -1 },
  ) {
    this.random = rng(seed);
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)]!;
  }

  ready(lane: Lane): void {
    this.#lanes.add(lane);
  }

  /** Schedules `event` to run at some later step. */
  later(event: Event): void {
    this.#events.push(event);
  }

  /** A caller thread (the proxy's main thread, or a replica's). */
  thread(name: string): Client {
    const client = new Client(name, {
      subscribe: (t: HandleTarget) => this.later(() => this.#publish(name, targetKey(t))),
      connect: (replicaId: string) => this.later(() => this.#connect(name, replicaId)),
    });
    this.threads.set(name, client);
    return client;
  }

  /** A replica of `deployment` running `instance`. */
  replica(id: string, deployment: string, instance: object): SimReplica {
    const client = this.thread(id);
    const spec = { name: deployment, kind: "class", options: { ...DEFAULT_OPTIONS, maxOngoingRequests: this.limits.maxOngoingRequests }, handles: [] } as unknown as DeploymentSpec;
    const r: SimReplica = { id, deployment, replica: new Replica(id, this.appName, spec, instance, client), client, dead: false };
    this.replicas.set(id, r);
    const key = `${this.appName}/${deployment}`;
    this.#sets.set(key, [...(this.#sets.get(key) ?? []), id]);
    return r;
  }

  target(deployment: string): HandleTarget {
    return { appName: this.appName, deploymentName: deployment };
  }

  #publish(thread: string, key: string): void {
    const client = this.threads.get(thread);
    if (!client) return;
    const ids = (this.#sets.get(key) ?? []).filter((id) => !this.replicas.get(id)!.dead);
    for (const id of ids) this.#connect(thread, id);
    client.setReplicas(key, ids, this.limits);
  }

  /** As the controller does: a new port pair, one end to the caller thread, one to the replica. */
  #connect(thread: string, replicaId: string): void {
    const pair = `${thread}>${replicaId}`;
    const client = this.threads.get(thread);
    const r = this.replicas.get(replicaId);
    if (!client) return;
    if (!r || r.dead) return client.replicaDied(replicaId, died(replicaId));
    if (this.#connected.has(pair)) return;
    this.#connected.add(pair);
    const toReplica = new Lane(`${thread} -> ${replicaId}`);
    const toCaller = new Lane(`${replicaId} -> ${thread}`);
    const callerEnd = new SimPort(toReplica, this);
    const replicaEnd = new SimPort(toCaller, this);
    toReplica.target = replicaEnd;
    toCaller.target = callerEnd;
    const cp: CallerPort = { caller: thread, port: new BatchedPort<ToCaller, ToReplica>(replicaEnd as unknown as MessagePort) };
    const accept = () => {
      if (TRACE) console.log(`#${this.steps} ${replicaId} accepts the port of ${thread}`);
      cp.port.listen((msg) => {
        if (!r.dead) r.replica.receive(cp, msg);
      });
      r.replica.addCaller(cp);
    };
    if (this.random() < 0.5) {
      // Between nodes, the replica's end opens with the first batch the caller sends on it.
      toReplica.onFirst = accept;
    } else {
      // The controller hands the replica its end by another message than the caller's: the
      // replica may accept it at a later step, after calls sent on for this caller reached it.
      toReplica.held = true;
      this.later(() => {
        if (r.dead) return;
        accept();
        toReplica.held = false;
        if (toReplica.queue.length) this.ready(toReplica);
      });
    }
    client.addLink(replicaId, callerEnd as unknown as MessagePort);
  }

  /**
   * Kills a replica: its ports stop (what it posted still arrives), and each other thread hears
   * of it at a step of its own, as it would from the controller.
   */
  kill(replicaId: string): void {
    const r = this.replicas.get(replicaId)!;
    if (TRACE) console.log(`#${this.steps} ${replicaId} dies`);
    r.dead = true;
    for (const name of this.threads.keys()) {
      if (name === replicaId) continue;
      this.later(() => {
        if (TRACE) console.log(`#${this.steps} ${name} hears that ${replicaId} died`);
        this.threads.get(name)?.replicaDied(replicaId, died(replicaId));
        const other = this.replicas.get(name);
        if (other && !other.dead) other.replica.callerGone(replicaId);
      });
    }
    this.threads.delete(replicaId);
  }

  /** Runs one step: delivers one batch on one lane, or runs one event. False when nothing is left. */
  step(): boolean {
    const lanes = [...this.#lanes].filter((l) => l.queue.length > 0 && !l.closed && !l.held);
    const choices = lanes.length + this.#events.length;
    if (choices === 0) return false;
    this.steps++;
    const i = Math.floor(this.random() * choices);
    if (i < lanes.length) {
      const lane = lanes[i]!;
      const data = lane.queue.shift();
      if (lane.queue.length === 0) this.#lanes.delete(lane);
      const first = lane.onFirst;
      lane.onFirst = undefined;
      first?.();
      if (TRACE) console.log(`#${this.steps} ${lane.name}: ${typeof data === "string" ? data : JSON.stringify(data)}`);
      lane.target?.onmessage?.({ data });
    } else {
      const [event] = this.#events.splice(i - lanes.length, 1);
      event!();
    }
    return true;
  }

  /** Steps until nothing is left (or `maxSteps`), letting promises settle between steps. */
  async run(maxSteps = 200_000): Promise<void> {
    // The routers' power of two choices draws from Math.random: from the seed here, so a seed replays.
    const random = Math.random;
    Math.random = this.random;
    try {
      await settle();
      while (this.steps < maxSteps && this.step()) await settle();
    } finally {
      Math.random = random;
    }
  }
}

const died = (id: string) => {
  const err = new Error(`replica ${id} died`);
  err.name = "ReplicaDiedError";
  return err;
};

/** Lets every queued microtask run (BatchedPort flushes at the end of the tick); nothing else runs between steps. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
