/**
 * The processes of the control simulation (control_sim.ts): the head (a real ClusterHead and
 * Controller) and worker nodes (a real WorkerNode), each on its own simulated NATS connection,
 * with stand-ins for what runs in Workers (replicas) and for the proxies' main threads. The
 * stand-ins record what the protocol told them, for the invariants to read.
 */
import type { DeploymentSpec } from "../../sdk/graph.ts";
import type { ReplicaState } from "../../sdk/status.ts";
import type { ConfigApplier, Prepared, PreparedApp } from "../../runtime/admin/apply.ts";
import { ClusterHead } from "../../runtime/cluster/head.ts";
import type { ClusterOptions, Subjects } from "../../runtime/cluster/options.ts";
import { ClusterState } from "../../runtime/cluster/state.ts";
import { WorkerNode } from "../../runtime/cluster/worker_node.ts";
import type { CodeStore } from "../../runtime/cluster/code.ts";
import { type CallerThread, Controller } from "../../runtime/controller/controller.ts";
import { type ManagedReplica, newReplicaId } from "../../runtime/controller/worker.ts";
import type { Directory } from "../../runtime/replica/directory.ts";
import type { ControllerForReplica } from "../../runtime/replica/host.ts";
import type { Sim, SimConnection, SimKV } from "./control_sim.ts";

/** A process: the head or a worker node, one incarnation (a node started again is a new Proc with the same name). */
export class Proc {
  alive = true;
  /** Cut off from the NATS server: what it sends and what is sent to it is lost. */
  cut = false;
  readonly replicas = new Map<string, FakeReplica>();
  readonly main = new FakeThread();
  constructor(
    readonly name: string,
    readonly incarnation: number,
  ) {}
}

// --- stand-ins for what runs in Workers and proxies ---

/** A caller thread (a proxy's main thread, or a replica's): what it was told. */
export class FakeThread implements CallerThread {
  /** addLink calls per replica. */
  readonly links = new Map<string, number>();
  /** Replicas it holds a port to (added by addLink, dropped by replicaDied). */
  readonly live = new Set<string>();
  readonly routes = new Map<string, string[]>();
  readonly died = new Map<string, number>();
  readonly unavailableKeys = new Set<string>();
  addLink(replicaId: string, port: unknown): void {
    this.links.set(replicaId, (this.links.get(replicaId) ?? 0) + 1);
    this.live.add(replicaId);
    if (port instanceof MessagePort) port.close();
  }
  setReplicas(key: string, ids: string[]): void {
    this.routes.set(key, [...ids]);
    this.unavailableKeys.delete(key);
  }
  unavailable(key: string): void {
    this.unavailableKeys.add(key);
  }
  replicaDied(replicaId: string): void {
    this.died.set(replicaId, (this.died.get(replicaId) ?? 0) + 1);
    this.live.delete(replicaId);
  }
  setDirectory(): void {}
  setModels(): void {}
  queued(): number {
    return 0;
  }
}

/**
 * A replica whose Worker is a few lines: it starts after a while, holds handles to the
 * deployments its spec names (it subscribes to them, as a replica's Client does), and records
 * what its thread is told. `crash()` is its Worker dying.
 */
export class FakeReplica implements ManagedReplica {
  readonly id: string;
  state: ReplicaState = "STARTING";
  models: string[] = [];
  node?: string;
  onKilled: (() => void) | undefined;
  readonly thread = new FakeThread();
  #exited = false;
  #onExit: ((err: Error) => void)[] = [];
  readonly host: ManagedReplica["host"];

  constructor(
    readonly sim: Sim,
    readonly proc: Proc,
    readonly appName: string,
    readonly spec: DeploymentSpec,
    readonly api: ControllerForReplica,
    id?: string,
  ) {
    this.id = id ?? newReplicaId(appName, spec.name);
    proc.replicas.set(this.id, this);
    const t = this.thread;
    const subscribeAll = () => {
      for (const h of spec.handles) api.subscribe(appName, h);
    };
    const host = {
      checkHealth: () => this.#answer(undefined),
      setDirectory: () => this.#answer(undefined),
      resubscribe: () => {
        subscribeAll();
        return this.#answer(undefined);
      },
      addLink: (replicaId: string, port: unknown) => {
        t.addLink(replicaId, port);
        return this.#answer(undefined);
      },
      accept: (port: unknown) => {
        if (port instanceof MessagePort) port.close();
        return this.#answer(undefined);
      },
      replicaDied: (replicaId: string) => {
        t.replicaDied(replicaId);
        return this.#answer(undefined);
      },
      setReplicas: (key: string, ids: string[]) => {
        t.setReplicas(key, ids);
        return this.#answer(undefined);
      },
      unavailable: (key: string) => {
        t.unavailable(key);
        return this.#answer(undefined);
      },
      queuedFor: () => this.#answer(0),
      ongoing: () => this.#answer(0),
      stats: () => this.#answer({ loads: 0, unloads: 0, loadMsTotal: 0, ongoing: 0, oldestMs: 0 }),
      metrics: () => this.#answer(undefined),
    };
    this.host = new Proxy(host, {
      get: (target, method) => (target as Record<string | symbol, unknown>)[method] ?? (() => this.#answer(undefined)),
    }) as unknown as ManagedReplica["host"];
    this.subscribeAll = subscribeAll;
  }

  readonly subscribeAll: () => void;

  /** A Worker answers while it runs; a dead one never does. */
  #answer<T>(value: T): Promise<T> {
    if (!this.alive) return new Promise(() => {});
    return Promise.resolve(value);
  }

  get alive(): boolean {
    return !this.#exited && this.proc.alive;
  }

  async start(_directory: Directory): Promise<void> {
    const exited = new Promise<never>((_, reject) => this.onExit(reject));
    await Promise.race([this.sim.sleep(this.sim.between(5, 400)), exited]);
    if (!this.alive) throw new Error(`replica ${this.id} died while starting`);
    this.subscribeAll();
  }

  onExit(listener: (err: Error) => void): void {
    if (this.#exited) return;
    this.#onExit.push(listener);
  }

  /** Its Worker crashes. */
  crash(): void {
    if (this.#exited) return;
    this.sim.trace(`${this.proc.name}: replica ${this.id} crashes`);
    this.#exited = true;
    const listeners = this.#onExit;
    this.#onExit = [];
    // What its process does about it is that process's (its timers die with it).
    this.sim.as(this.proc, () => {
      for (const l of listeners) l(new Error(`replica ${this.id} crashed`));
    });
  }

  async stop(_timeoutMs: number): Promise<void> {
    if (this.#exited) return;
    this.state = "STOPPING";
    this.#onExit = [];
    await this.sim.sleep(this.sim.between(1, 200));
    this.kill();
  }

  #killed = false;

  kill(): void {
    if (this.#killed) return;
    this.#killed = true;
    this.#onExit = [];
    this.#exited = true;
    this.onKilled?.();
  }
}

/** The head: its process, connection, controller and applier. */
export class SimHead {
  readonly proc: Proc;
  readonly conn: SimConnection;
  readonly controller: Controller;
  readonly head: ClusterHead;
  readonly applier: ConfigApplier;
  restored: Promise<number> | undefined;

  constructor(
    readonly sim: Sim,
    readonly nodeId: string,
    incarnation: number,
  ) {
    const proc = (this.proc = new Proc(nodeId, incarnation));
    this.conn = sim.connect(proc);
    const controller = (this.controller = new Controller(proc.main));
    controller.newReplica = (appName, spec, api) => new FakeReplica(sim, proc, appName, spec, api);
    const options: ClusterOptions = { url: "nats://sim", name: "sim", nodeId, head: true };
    const state = new (ClusterState as unknown as new (kv: SimKV) => ClusterState)(sim.kv);
    const me = nodeId;
    this.head = sim.as(proc, () =>
      new ClusterHead(
        this.conn as never,
        sim.subjects,
        options,
        controller,
        {
          threads: {
            mainName: "main",
            main: proc.main,
            replica: (id) => {
              const r = controller.replica(id);
              return r && r.node === me ? r : undefined;
            },
            replicas: () => [...controller.replicaWorkers()].filter((r) => r.node === me),
          },
          routes: () => ({ routes: [], failed: [] }),
          httpUrl: `http://${nodeId}`,
        },
        state,
        {} as CodeStore,
        true,
      ),
    );
    this.applier = new SimApplier(controller) as unknown as ConfigApplier;
  }

  /** As `tsserve start --head` does: take back what the state holds. */
  restore(): void {
    this.restored = this.sim.as(this.proc, () => this.head.restore(this.applier));
    this.restored.catch((e) => this.sim.errors.push(`restore failed: ${(e as Error).stack}`));
  }

  /** As `tsserve deploy` does. */
  deploy(app: PreparedApp): Promise<unknown> {
    return this.sim.as(this.proc, () => this.applier.apply({ config: { applications: [app.config] }, apps: [app] } as unknown as Prepared, "add").done);
  }
}

/** What ConfigApplier does that the head relies on (apply one at a time, onApplied, beforeDeploy), without files. */
class SimApplier {
  onApplied: ((apps: PreparedApp[]) => void) | undefined;
  beforeDeploy: ((app: PreparedApp) => Promise<void>) | undefined;
  readonly #apps = new Map<string, PreparedApp>();
  #queue: Promise<unknown> = Promise.resolve();
  constructor(readonly controller: Controller) {}
  apply(prepared: Prepared): { generation: number; done: Promise<{ errors: Record<string, string> }> } {
    const done = this.#queue.then(async () => {
      for (const a of prepared.apps) this.#apps.set(a.config.name, a);
      const errors: Record<string, string> = {};
      try {
        const results = await Promise.allSettled(prepared.apps.map((a) => this.controller.deploy(a.spec)));
        results.forEach((r, i) => {
          if (r.status === "rejected") errors[prepared.apps[i]!.config.name] = (r.reason as Error).message;
        });
      } finally {
        await this.onApplied?.([...this.#apps.values()]);
      }
      return { errors };
    });
    this.#queue = done.catch(() => {});
    return { generation: 0, done };
  }
}

/** A worker node: its process, connection and WorkerNode. */
export class SimNode {
  readonly proc: Proc;
  readonly conn: SimConnection;
  readonly node: WorkerNode;
  /** Deployments its proxy routes to ("app/deployment"): it subscribes to them, and again when asked. */
  readonly wants = new Set<string>();
  left = false;

  constructor(
    readonly sim: Sim,
    readonly nodeId: string,
    incarnation: number,
  ) {
    const proc = (this.proc = new Proc(nodeId, incarnation));
    this.conn = sim.connect(proc);
    const options: ClusterOptions = { url: "nats://sim", name: "sim", nodeId, head: false };
    this.node = new (WorkerNode as unknown as new (nc: unknown, s: Subjects, o: ClusterOptions, c: unknown) => WorkerNode)(this.conn, sim.subjects, options, {});
    this.node.newReplica = (appName, spec, api, id) => new FakeReplica(sim, proc, appName, spec, api, id);
  }

  /** Its proxy listens: it joins (heartbeats, the head's commands). */
  join(): void {
    this.sim.as(this.proc, () =>
      this.node.join(
        {
          mainThread: this.proc.main,
          setClusterRoutes: () => {},
          resubscribe: () => {
            for (const key of this.wants) this.#subscribe(key);
          },
        },
        `http://${this.nodeId}`,
      ),
    );
  }

  /** Its proxy gets a request for `key`: its main thread subscribes to the deployment. */
  route(key: string): void {
    this.wants.add(key);
    this.sim.as(this.proc, () => this.#subscribe(key));
  }

  #subscribe(key: string): void {
    const [appName, deploymentName] = key.split("/") as [string, string];
    this.node.main.routes.subscribe({ appName, deploymentName });
  }

  /** Ctrl-C: it leaves the cluster gracefully. */
  leave(): Promise<void> {
    this.left = true;
    return this.sim.as(this.proc, () => this.node.leave(1000)).then(() => {
      this.proc.alive = false;
    });
  }
}

