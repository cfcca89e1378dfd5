/**
 * A worker node: it hosts the replicas the head places here, runs an HTTP proxy that serves
 * every route of the cluster, and says it is alive once a second. It has no controller of its
 * own: its main thread and its replicas ask the head's.
 */
import type { Subscription } from "@nats-io/transport-node";
import { ReplicaDiedError } from "../../sdk/errors.ts";
import type { DeploymentSpec } from "../../sdk/graph.ts";
import type { CallerThread } from "../controller/controller.ts";
import { type ManagedReplica, ReplicaWorker } from "../controller/worker.ts";
import type { Directory } from "../replica/directory.ts";
import type { ControllerForReplica } from "../replica/host.ts";
import type { RouteSource } from "../router/client.ts";
import type { RouteSet } from "../main.ts";
import { logger } from "../log/logger.ts";
import { NodeAgent } from "./agent.ts";
import { subscribe } from "./subscribe.ts";
import { decodeWire, encodeWire } from "./codec.ts";
import { connectCluster, type NatsConnection } from "./connection.ts";
import { DEAD_AFTER_MS, HEARTBEAT_EVERY_MS, type Heartbeat, nodeMain } from "./heartbeat.ts";
import { type ClusterOptions, Subjects } from "./options.ts";
import { ask, serveControl, tell } from "./rpc.ts";
import { CodeStore } from "./code.ts";
import { fromDeployedCode } from "./deployed_code.ts";

interface Spawn {
  id: string;
  appName: string;
  spec: DeploymentSpec;
  directory: Directory;
}

/** What the worker node needs of its main runtime (runtime/main.ts). */
export interface NodeRuntime {
  mainThread: CallerThread;
  setClusterRoutes(set: RouteSet): void;
  /** The head restarted: ask it again for the replicas of every deployment the proxy routes to. */
  resubscribe(): void;
}

export class WorkerNode {
  readonly #replicas = new Map<string, ManagedReplica>();
  readonly #subs: Subscription[] = [];
  #agent: NodeAgent | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  /** Sent with each heartbeat: the head tells this run of the node from one before it under the same id. */
  readonly #since = Date.now();
  httpUrl: string | null = null;
  /** Makes the Worker of a replica the head placed here (the cluster's simulation puts a stand-in here). */
  newReplica = (appName: string, spec: DeploymentSpec, api: ControllerForReplica, id: string): ManagedReplica => {
    const r = new ReplicaWorker(appName, spec, api, id);
    r.locate = (spec) => fromDeployedCode(this.code, spec);
    return r;
  };

  private constructor(
    readonly nc: NatsConnection,
    readonly subjects: Subjects,
    readonly options: ClusterOptions,
    readonly code: CodeStore,
  ) {}

  static async connect(options: ClusterOptions): Promise<WorkerNode> {
    const nc = await connectCluster(options);
    try {
      return new WorkerNode(nc, new Subjects(options.name), options, await CodeStore.open(nc, options.name));
    } catch (e) {
      await nc.close();
      throw new Error(`cannot open the cluster's code store: ${(e as Error).message}; is nats-server running with JetStream (-js)?`);
    }
  }

  /** The thread name and route source of this node's main thread: it asks the head. */
  get main(): { name: string; routes: RouteSource } {
    const name = nodeMain.name(this.options.nodeId);
    const ask = this.#toHead(name);
    return {
      name,
      routes: {
        subscribe: (t) => ask("subscribe", [t.appName, t.deploymentName]),
        connect: (id) => ask("connect", [id]),
        demand: () => ask("demand", []),
      },
    };
  }

  /** How a thread of this node asks the head's controller (subscribe, connect, ...): no answer is awaited. */
  #toHead(thread: string): (op: string, args: unknown[]) => void {
    return (op, args) => tell(this.nc, this.subjects.head, "ctl", { thread, op, args });
  }

  /** Starts taking the head's commands and sending heartbeats (the proxy is up: `httpUrl`). */
  join(runtime: NodeRuntime, httpUrl: string): void {
    this.httpUrl = httpUrl;
    const me = this.options.nodeId;
    const agent = (this.#agent = new NodeAgent(this.nc, this.subjects, me, {
      mainName: nodeMain.name(me),
      main: runtime.mainThread,
      replica: (id) => this.#replicas.get(id),
      replicas: () => this.#replicas.values(),
    }));
    this.#subs.push(
      serveControl(this.nc, this.subjects.node(me), {
        spawn: (b: Spawn) => this.#spawn(b),
        host: (b: { id: string; method: string; args: unknown[] }) => {
          const r = this.#replicas.get(b.id);
          if (!r?.alive) throw new ReplicaDiedError(`replica ${b.id} is not running on node ${me}`);
          return (r.host as unknown as Record<string, (...a: unknown[]) => unknown>)[b.method]!(...b.args);
        },
        stop: async (b: { id: string; timeoutMs: number }) => {
          await this.#replicas.get(b.id)?.stop(b.timeoutMs);
          this.#forget(b.id);
        },
        kill: (b: { id: string }) => {
          this.#replicas.get(b.id)?.kill();
          this.#forget(b.id);
        },
        link: (b: { thread: string; replica: string; replicaNode: string }) => agent.link(b.thread, b.replica, b.replicaNode),
        // A restarted head takes back a replica that runs here: it asks the new head for its routes.
        adopt: async (b: { id: string; directory: Directory }) => {
          const r = this.#replicas.get(b.id);
          if (!r?.alive) throw new ReplicaDiedError(`replica ${b.id} is no longer running on node ${me}`);
          await r.host.setDirectory(b.directory);
          await r.host.resubscribe();
        },
        // The head restarted, or was off NATS: every thread here asks again for its routes.
        resubscribe: () => {
          runtime.resubscribe();
          for (const r of this.#replicas.values()) if (r.alive) void r.host.resubscribe().catch(() => {});
        },
        thread: (b: { method: string; args: unknown[] }) => (runtime.mainThread as unknown as Record<string, (...a: unknown[]) => unknown>)[b.method]!(...b.args),
      }),
      serveControl(this.nc, this.subjects.all, {
        gone: (b: { id: string; message: string }) => agent.gone(b.id, b.message),
        nodeGone: (b: { node: string }) => agent.bridge.nodeGone(b.node),
        routes: (b: RouteSet) => runtime.setClusterRoutes(b),
      }),
      subscribe(this.nc, this.subjects.heartbeat, (msg) => {
        const hb = decodeWire(msg.data) as Heartbeat;
        this.#heard.add(hb.node);
        this.#heardHead(hb, agent);
      }),
    );
    this.#joinedAt = performance.now();
    void this.#watchConnection();
    this.#beat();
    this.#timer = setInterval(() => this.#beat(), HEARTBEAT_EVERY_MS);
  }

  /** The head as last heard: a new `headSince` means it restarted, and the replicas it ran died with it. */
  #head: { node: string; since: number; at: number; dead: boolean } | undefined;
  /** Every node heard from since this one joined (any heartbeat). */
  readonly #heard = new Set<string>();
  /** When this node joined (performance.now()). */
  #joinedAt = 0;
  /** Nodes given up for never having been heard from (see #checkHead). */
  readonly #neverHeard = new Set<string>();

  #heardHead(hb: Heartbeat, agent: NodeAgent): void {
    if (hb.headSince === undefined) return;
    const h = this.#head;
    // Recorded first: what the replicas' failing does must not keep this node from hearing the head.
    this.#head = { node: hb.node, since: hb.headSince, at: performance.now(), dead: false };
    if (h && (h.node !== hb.node || h.since !== hb.headSince) && !h.dead) {
      logger.warn(`the head (node ${h.node}) restarted: what was in flight at its replicas fails`);
      // Not the new head's own replicas: it may have linked this node to them before its first heartbeat came.
      agent.nodeDead(h.node, `the head (node ${h.node}) restarted; its replicas are gone`, new Set(hb.replicas));
    }
  }

  /**
   * Off NATS (it reconnects): a head unheard meanwhile is not silent, this node is deaf. Invariant:
   * the node fails its links to the head's replicas only when the head went silent while the node
   * listened; after a reconnect, the head (and every node not heard yet) has DEAD_AFTER_MS to be
   * heard again. (A node that did so on its own silence dropped links the head had just made
   * again and would not make a third time: its proxy routed to replicas it had no link to.)
   */
  #offline = false;

  async #watchConnection(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === "disconnect") this.#offline = true;
      else if (s.type === "reconnect") {
        this.#offline = false;
        if (this.#head) this.#head.at = performance.now();
        this.#joinedAt = performance.now();
        // What the head sent meanwhile is lost: it hears what runs here, and has every thread here
        // ask again for its routes and links (head.ts, #reconnected).
        tell(this.nc, this.subjects.head, "reconnected", { node: this.options.nodeId, replicas: [...this.#replicas.keys()] });
      }
    }
  }

  /**
   * A head silent for as long as a dead node is: its replicas are as good as dead. A head that
   * went silent before its first heartbeat reached this node (frozen a moment after this node
   * joined) is silent all the same, though this node does not know its id: the nodes this one
   * has links to and has not heard from since it joined are given up (the head among them; any
   * other is as silent, and the head declares it dead too).
   */
  #checkHead(): void {
    const h = this.#head;
    const agent = this.#agent;
    const now = performance.now();
    if (this.#offline) return;
    if (h) {
      if (h.dead || now - h.at <= DEAD_AFTER_MS) return;
      h.dead = true;
      logger.warn(`the head (node ${h.node}) has not been heard from for ${DEAD_AFTER_MS / 1000} s: what was in flight at its replicas fails`);
      return agent?.nodeDead(h.node, `the head (node ${h.node}) has not been heard from for ${DEAD_AFTER_MS / 1000} s`);
    }
    if (!agent || now - this.#joinedAt <= DEAD_AFTER_MS) return;
    for (const node of agent.linkedNodes()) {
      if (node === this.options.nodeId || this.#heard.has(node) || this.#neverHeard.has(node)) continue;
      this.#neverHeard.add(node);
      const why = `node ${node} has not been heard from in the ${DEAD_AFTER_MS / 1000} s since node ${this.options.nodeId} joined`;
      logger.warn(`${why}: what was in flight at its replicas fails`);
      agent.nodeDead(node, why);
    }
  }

  #beat(): void {
    const hb: Heartbeat = { node: this.options.nodeId, httpUrl: this.httpUrl, replicas: [...this.#replicas.keys()], since: this.#since };
    this.nc.publish(this.subjects.heartbeat, encodeWire(hb));
    // After the heartbeat: whatever failing the head's replicas does, this node keeps beating.
    this.#checkHead();
  }

  async #spawn(b: Spawn): Promise<void> {
    const head = this.subjects.head;
    const ask = this.#toHead(b.id);
    const api: ControllerForReplica = {
      subscribe: (app, deployment) => ask("subscribe", [app, deployment]),
      connect: (id) => ask("connect", [id]),
      demandArrived: () => ask("demandArrived", []),
      reportModels: (ids) => ask("reportModels", [ids]),
      // A node logs its replicas' records itself, to its own output.
      log: (records) => {
        for (const rec of records) logger.write(rec);
      },
    };
    const r = this.newReplica(b.appName, b.spec, api, b.id);
    r.node = this.options.nodeId;
    this.#replicas.set(r.id, r);
    this.#agent!.bridge.serve(r.id);
    r.onExit((err) => {
      this.#forget(r.id);
      tell(this.nc, head, "exit", { id: r.id, message: err.message });
    });
    try {
      await r.start(b.directory);
    } catch (err) {
      r.kill();
      this.#forget(r.id);
      throw err;
    }
  }

  #forget(id: string): void {
    this.#replicas.delete(id);
    this.#agent?.bridge.gone(id);
  }

  /**
   * Leaves the cluster: the head starts replacements elsewhere, then drains and stops this node's
   * replicas (up to `timeoutMs`, and as long again for the replacements to start); whatever is
   * left then is stopped here. Heartbeats go on meanwhile, so the head does not take the node for dead.
   */
  async leave(timeoutMs: number): Promise<void> {
    const answer = ask(this.nc, this.subjects.head, "bye", { node: this.options.nodeId }, 2 * timeoutMs + 5000).catch(() => {});
    await answer;
    clearInterval(this.#timer);
    await Promise.all([...this.#replicas.values()].map((r) => r.stop(timeoutMs)));
    for (const s of this.#subs) s.unsubscribe();
    this.#agent?.bridge.close();
    await this.nc.drain().catch(() => {});
  }
}
