/**
 * The head node's side of a cluster: it knows the nodes (by their heartbeats), places replicas
 * across the live ones, carries the controller's calls to replicas on other nodes, connects
 * threads and replicas that sit on different nodes, and tells every node what died and where
 * HTTP routes go.
 */
import type { Subscription } from "@nats-io/transport-node";
import { ReplicaDiedError, ServeError } from "../../sdk/errors.ts";
import type { NodeStatusInfo } from "../../sdk/status.ts";
import type { CallerThread, ClusterHooks, Controller } from "../controller/controller.ts";
import { type ManagedReplica, ReplicaWorker } from "../controller/worker.ts";
import type { CodeStore } from "./code.ts";
import { fromDeployedCode, storeCode } from "./deployed_code.ts";
import type { ControllerForReplica } from "../replica/host.ts";
import type { Route } from "../proxy/routes.ts";
import { logger } from "../log/logger.ts";
import { NodeAgent, type LocalThreads } from "./agent.ts";
import type { NatsConnection } from "./connection.ts";
import type { ClusterOptions, Subjects } from "./options.ts";
import { RemoteReplica, type NodeLine } from "./remote_replica.ts";
import { ask, noResponders, serveControl, tell } from "./rpc.ts";
import { subscribe } from "./subscribe.ts";
import { decodeWire, encodeWire } from "./codec.ts";
import { DEAD_AFTER_MS, HEARTBEAT_EVERY_MS, type Heartbeat, nodeMain } from "./heartbeat.ts";
import { DeploymentState as Deployment } from "../controller/deployment.ts";
import type { ConfigApplier, Prepared } from "../admin/apply.ts";
import type { ClusterState, ReplicaRecord } from "./state.ts";

interface NodeState {
  status: NodeStatusInfo["status"];
  lastSeen: number;
  httpUrl: string | null;
  /** The replicas it said it runs, in its last heartbeat. */
  replicas: ReadonlySet<string>;
  /** It asked to leave, and its replicas are moving: its heartbeats do not make it join again. */
  leaving?: boolean;
  /** When this run of the node started (its heartbeats' `since`). */
  since?: number;
  /** When a request to it found nobody listening (its process is gone, or it is reconnecting to NATS). */
  unreachableAt?: number;
}

/** How long a restarted head listens before taking replicas back: every live node beats twice meanwhile. */
const LISTEN_BEFORE_ADOPTING_MS = 2.5 * HEARTBEAT_EVERY_MS;

/** What the head needs of the main runtime: its threads, and the routes its proxy serves. */
export interface HeadRuntime {
  threads: LocalThreads;
  routes(): { routes: Route[]; failed: string[] };
  httpUrl: string | null;
}

export class ClusterHead implements ClusterHooks, NodeLine {
  readonly #nodes = new Map<string, NodeState>();
  readonly #remote = new Map<string, RemoteReplica>();
  /** Replicas of this process (recorded in the state like the others). */
  readonly #local = new Set<string>();
  readonly #agent: NodeAgent;
  readonly #subs: Subscription[] = [];
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #beat: ReturnType<typeof setInterval>;
  readonly #me: string;
  readonly #since = Date.now();
  /**
   * While a restarted head takes things back: replicas that run on live nodes, by deployment
   * ("app/deployment"), for `place` to adopt instead of starting new ones. Until it is done,
   * replicas the head does not know are left running (they may be adopted).
   */
  #adoptable: Map<string, ReplicaRecord[]> | undefined;

  constructor(
    readonly nc: NatsConnection,
    readonly subjects: Subjects,
    readonly options: ClusterOptions,
    readonly controller: Controller,
    readonly runtime: HeadRuntime,
    readonly state: ClusterState,
    readonly code: CodeStore,
    /** `restore()` follows: until it is done, replicas the head does not know may yet be taken back. */
    willRestore = false,
  ) {
    if (willRestore) this.#adoptable = new Map();
    this.#me = options.nodeId;
    this.#nodes.set(this.#me, { status: "ALIVE", lastSeen: Infinity, httpUrl: runtime.httpUrl, replicas: new Set() });
    this.#agent = new NodeAgent(nc, subjects, this.#me, runtime.threads);
    this.#subs.push(
      serveControl(nc, subjects.head, {
        ctl: (b: { thread: string; op: string; args: unknown[] }) => this.#fromThread(b.thread, b.op, b.args),
        exit: (b: { id: string; message: string }) => this.#remote.get(b.id)?.exited(new ReplicaDiedError(b.message)),
        bye: (b: { node: string }) => this.#leaving(b.node),
        reconnected: (b: { node: string; replicas: string[] }) => this.#reconnected(b.node, b.replicas),
      }),
      subscribe(nc, subjects.heartbeat, (msg) => this.#heard(decodeWire(msg.data) as Heartbeat)),
    );
    this.#timer = setInterval(() => this.#checkNodes(), 500);
    (this.#timer as { unref?: () => void }).unref?.();
    // The head beats too: worker nodes learn when it restarted (its replicas are then gone) or went silent.
    const beat = () => {
      const hb: Heartbeat = { node: this.#me, httpUrl: runtime.httpUrl, replicas: [...runtime.threads.replicas()].map((r) => r.id), headSince: this.#since };
      nc.publish(subjects.heartbeat, encodeWire(hb));
    };
    beat();
    this.#beat = setInterval(beat, HEARTBEAT_EVERY_MS);
    (this.#beat as { unref?: () => void }).unref?.();
    controller.cluster = this;
    void this.#watchConnection();
  }

  /** Off NATS (it reconnects): nodes unheard meanwhile are not silent, the head is deaf. */
  #offline = false;

  /**
   * Invariant: the head declares a node dead only for a silence it listened through. Back on
   * NATS, each node has DEAD_AFTER_MS to be heard again (declared dead on the head's own
   * silence, every node's replicas were replaced at once), and gets no replica until it is
   * (after a NATS restart it may not be back yet: each start attempt there would fail at once,
   * and a deployment gives up after three); and what the nodes sent meanwhile
   * is lost (a thread's subscribe or connect): their threads ask again, and links are made
   * again (each node keeps those it has). A replica still starting elsewhere may have lost the
   * answer to its spawn (it would wait NO_LIMIT_MS): it ends, and starts again; its node's next
   * heartbeat stops the first one if it did start.
   */
  async #watchConnection(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === "disconnect") this.#offline = true;
      else if (s.type === "reconnect") {
        this.#offline = false;
        const now = performance.now();
        for (const [id, n] of this.#nodes) {
          if (id === this.#me || n.status !== "ALIVE") continue;
          n.lastSeen = now;
          n.unreachableAt = now;
          this.controller.linksLost(nodeMain.name(id));
          for (const r of this.#remote.values()) if (r.node === id) this.controller.linksLost(r.id);
          if (!this.#adoptable) this.tell(id, "resubscribe", {});
        }
        for (const r of [...this.#remote.values()]) {
          if (r.state === "STARTING") r.exited(new ReplicaDiedError(`replica ${r.id} did not start: the head was off NATS while it started on node ${r.node}`));
        }
      }
    }
  }

  /**
   * Stores every config apply in the cluster's state, and takes back what the state holds from
   * a head that ran before: its applications, and its replicas still running on live nodes.
   * Resolves once they are deployed again; the number of applications taken back.
   */
  async restore(applier: ConfigApplier): Promise<number> {
    const [apps, records] = await Promise.all([this.state.apps(), this.state.replicas()]);
    // The replicas a head before this one ran in its own process died with it: every node fails
    // at once what it had in flight there (their heartbeats may tell them later, or not at all).
    for (const r of records) {
      if (r.node !== this.#me) continue;
      tell(this.nc, this.subjects.all, "gone", { id: r.id, message: `replica ${r.id} died: the head (node ${r.node}) restarted` });
      this.state.deleteReplica(r.id);
    }
    // Invariant: an apply completes once its applications are stored (a head killed just after a
    // deploy it said was done takes it back); a failed write is logged, and the apply completes.
    applier.onApplied = (now) => this.state.setApps(now);
    // Applications taken back run the code stored when they were deployed (their files may be gone);
    // from then on, each deploy stores its code first.
    const storeFromNowOn = () => (applier.beforeDeploy = (app) => storeCode(this.code, app));
    if (apps.length === 0) {
      storeFromNowOn();
      for (const r of records) if (r.node !== this.#me) this.state.deleteReplica(r.id);
      this.#adoptable = undefined;
      this.publishRoutes();
      return 0;
    }
    logger.info(`taking back ${apps.length} application(s) from the cluster's state: ${apps.map((a) => a.config.name).join(", ")}`);
    await new Promise((r) => setTimeout(r, LISTEN_BEFORE_ADOPTING_MS));
    const versions = new Map<string, string>();
    for (const a of apps) for (const d of a.spec.deployments) versions.set(`${a.spec.name}/${d.name}`, Deployment.version(d));
    for (const r of records) {
      if (r.node === this.#me) continue;
      const key = `${r.app}/${r.deployment}`;
      const n = this.#nodes.get(r.node);
      if (n?.status === "ALIVE" && n.replicas.has(r.id) && versions.get(key) === r.version) {
        let list = this.#adoptable!.get(key);
        if (!list) this.#adoptable!.set(key, (list = []));
        list.push(r);
      } else this.state.deleteReplica(r.id);
    }
    const prepared: Prepared = { config: { applications: apps.map((a) => a.config) } as Prepared["config"], apps };
    try {
      const { errors } = await applier.apply(prepared, "add").done;
      for (const [name, message] of Object.entries(errors)) logger.warn(`application ${name} could not be taken back: ${message}`);
    } finally {
      storeFromNowOn();
      // Replicas left over (more than their deployment wants now) are stopped by the next heartbeat.
      for (const list of this.#adoptable!.values()) for (const r of list) this.state.deleteReplica(r.id);
      this.#adoptable = undefined;
      this.publishRoutes();
      for (const [id, n] of this.#nodes) if (id !== this.#me && n.status === "ALIVE") this.tell(id, "resubscribe", {});
    }
    return apps.length;
  }

  // --- what the controller asks (ClusterHooks) ---

  place(d: Deployment, api: ControllerForReplica): ManagedReplica | undefined {
    const adopted = this.#adoptable?.get(`${d.appName}/${d.spec.name}`)?.shift();
    const node = adopted?.node ?? this.#pick(d);
    if (node === this.#me) return undefined;
    const r = new RemoteReplica(d.appName, d.spec, api, node, this, adopted?.id);
    const version = Deployment.version(d.spec);
    r.onStarted = () => this.state.putReplica({ id: r.id, app: d.appName, deployment: d.spec.name, node, version });
    this.#remote.set(r.id, r);
    return r;
  }

  placedHere(r: ManagedReplica): void {
    r.node = this.#me;
    // Recorded too: a head that restarts tells every node that these died with it.
    this.#local.add(r.id);
    this.state.putReplica({ id: r.id, app: r.appName, deployment: r.spec.name, node: this.#me, version: Deployment.version(r.spec) });
    if (r instanceof ReplicaWorker) r.locate = (spec) => fromDeployedCode(this.code, spec);
    this.#agent.bridge.serve(r.id);
  }

  connect(thread: string, replicaId: string): boolean {
    const threadNode = this.#nodeOfThread(thread);
    const replicaNode = this.#remote.get(replicaId)?.node ?? this.#me;
    if (threadNode === this.#me && replicaNode === this.#me) return false;
    if (threadNode === this.#me) this.#agent.link(thread, replicaId, replicaNode);
    else this.tell(threadNode, "link", { thread, replica: replicaId, replicaNode });
    return true;
  }

  gone(id: string, message: string): void {
    if (this.#remote.delete(id) || this.#local.delete(id)) this.state.deleteReplica(id);
    this.#agent.drop(id);
    tell(this.nc, this.subjects.all, "gone", { id, message });
  }

  // --- placement ---

  /**
   * The live node with the fewest of `d`'s replicas (then the fewest replicas in all), below
   * `maxReplicasPerNode`: replicas spread evenly, and a node's loss costs each deployment least.
   */
  #pick(d: Deployment): string {
    const cap = d.spec.options.maxReplicasPerNode ?? Infinity;
    const mine = new Map<string, number>();
    const all = new Map<string, number>();
    for (const [id, n] of this.#nodes) {
      if (n.status !== "ALIVE" || n.unreachableAt !== undefined) continue;
      mine.set(id, 0);
      all.set(id, 0);
    }
    for (const r of this.controller.replicaWorkers()) {
      const node = r.node ?? this.#me;
      if (r.alive && all.has(node)) all.set(node, all.get(node)! + 1);
    }
    // This deployment's own replicas only: during a rolling update the replicas of the version
    // it replaces still run, and the new ones need room beside them.
    for (const r of d.replicas) {
      const node = r.node ?? this.#me;
      if (r.alive && r.state !== "STOPPING" && mine.has(node)) mine.set(node, mine.get(node)! + 1);
    }
    let best: string | undefined;
    for (const [id, n] of mine) {
      if (n >= cap) continue;
      if (best === undefined || n < mine.get(best)! || (n === mine.get(best)! && all.get(id)! < all.get(best)!)) best = id;
    }
    if (best === undefined) {
      throw new ServeError(
        `no live node can take another replica of ${d.appName}/${d.spec.name}: maxReplicasPerNode is ${cap} and each of the ${mine.size} live nodes holds that many; start more nodes or raise maxReplicasPerNode`,
      );
    }
    return best;
  }

  #nodeOfThread(thread: string): string {
    if (thread === "main") return this.#me;
    return nodeMain.node(thread) ?? this.#remote.get(thread)?.node ?? this.#me;
  }

  // --- nodes ---

  #heard(hb: Heartbeat): void {
    if (hb.node === this.#me) return;
    if (hb.headSince !== undefined) {
      logger.error(`another head (node ${hb.node}) runs on cluster ${this.options.name}; stop one of them`);
      return;
    }
    const known = this.#nodes.get(hb.node);
    // Invariant: one run of a node at a time. A node started again under its id before it was
    // missed (within DEAD_AFTER_MS), or while the head still moved the replicas of its run that
    // left, ran nothing of what the head placed there, and its threads have none of the links
    // the controller made for the run before: that run is dead, and this one joins afresh. A
    // heartbeat of the run before (in flight when it ended) is ignored.
    if (known?.since !== undefined && hb.since !== undefined && hb.since !== known.since) {
      if (hb.since < known.since) return;
      if (known.leaving) {
        known.leaving = false;
        for (const r of [...this.#remote.values()]) if (r.node === hb.node) r.exited(new ReplicaDiedError(`replica ${r.id} died: node ${hb.node} left the cluster`));
        this.#forgetNode(hb.node, `node ${hb.node} left the cluster`);
      } else this.#dead(hb.node, "was started again");
    }
    if (known?.leaving) return void (known.lastSeen = performance.now());
    if (!known || known.status === "DEAD") {
      this.#nodes.set(hb.node, { status: "ALIVE", lastSeen: performance.now(), httpUrl: hb.httpUrl, replicas: new Set(hb.replicas), since: hb.since });
      logger.info(`node ${hb.node} joined (HTTP at ${hb.httpUrl ?? "none"})`, { node: hb.node });
      this.controller.addThread(nodeMain.name(hb.node), this.#remoteMain(hb.node));
      // Its proxy asks for its routes again (it may have run under a head that is gone); while a
      // restarted head takes its applications back, not yet: they would be "not found".
      if (!this.#adoptable) this.tell(hb.node, "resubscribe", {});
      this.publishRoutes();
    } else {
      known.lastSeen = performance.now();
      known.replicas = new Set(hb.replicas);
      // Invariant: a replica the head has running there is in each heartbeat of its node (the
      // node answered its spawn before it beat again, and NATS keeps the node's order). One that
      // is not died there, and the node's "exit" was lost (the head was off NATS).
      for (const r of [...this.#remote.values()]) {
        if (r.node === hb.node && r.state === "RUNNING" && !known.replicas.has(r.id)) r.exited(new ReplicaDiedError(`replica ${r.id} died: node ${hb.node} no longer runs it`));
      }
      // Heard a heartbeat later than any sent before the failed request: it listens again.
      if (known.unreachableAt !== undefined && known.lastSeen - known.unreachableAt >= HEARTBEAT_EVERY_MS) known.unreachableAt = undefined;
    }
    // A replica the head does not know (its start was abandoned, or the node was declared dead
    // and came back) serves no one: it is stopped, unless a restarted head may yet take it back.
    if (!this.#adoptable) for (const id of hb.replicas) if (!this.#remote.has(id)) this.tell(hb.node, "kill", { id });
  }

  #checkNodes(): void {
    if (this.#offline) return;
    const now = performance.now();
    for (const [id, n] of this.#nodes) {
      if (n.status === "ALIVE" && now - n.lastSeen > DEAD_AFTER_MS) this.#dead(id, `has not been heard from for ${DEAD_AFTER_MS / 1000} s`);
    }
  }

  /**
   * Node `node` is leaving (Ctrl-C, SIGTERM): no new replica goes there, its replicas are
   * replaced elsewhere, then drain and stop; what they serve meanwhile is not cut. Resolves when
   * the node has nothing left (it then exits).
   */
  async #leaving(node: string): Promise<void> {
    const n = this.#nodes.get(node);
    if (!n || n.status === "DEAD" || node === this.#me) return;
    n.status = "DEAD";
    n.leaving = true;
    logger.info(`node ${node} is leaving; moving its replicas to the other nodes`, { node });
    await Promise.all([...this.#remote.values()].filter((r) => r.node === node).map((r) => this.controller.retire(r.id)));
    // Unless it was started again meanwhile (#heard forgot this run then).
    if (!n.leaving) return;
    n.leaving = false;
    this.#forgetNode(node, `node ${node} left the cluster`);
  }

  /**
   * Node `node` was off NATS and is back: what the head sent it meanwhile is lost (NATS core is at
   * most once). Invariant: a replica the head started there that the node does not run never got
   * its spawn (it would wait NO_LIMIT_MS for an answer): it ended, and starts elsewhere. The
   * node's threads ask again for their routes (the head tells it to; with the node also asking
   * on its own, tests/cluster/reconnect.test.ts lost calls through NATS restarts in a row, a
   * cause not yet found), and every
   * link is made again (the node keeps those it has): a link or a route sent meanwhile was lost. (A spawn sent just as the node came back
   * may still arrive: that replica is unknown then, and its node's next heartbeat stops it.)
   */
  #reconnected(node: string, running: string[]): void {
    const n = this.#nodes.get(node);
    if (!n || n.status === "DEAD") return;
    const runs = new Set(running);
    for (const r of [...this.#remote.values()]) {
      if (r.node !== node) continue;
      this.controller.linksLost(r.id);
      if (!runs.has(r.id)) r.exited(new ReplicaDiedError(`replica ${r.id} did not start: node ${node} was off NATS when it was asked to`));
    }
    this.controller.linksLost(nodeMain.name(node));
    if (!this.#adoptable) this.tell(node, "resubscribe", {});
  }

  /** Node `node` is dead: what ran there fails and is replaced elsewhere; callers stop using it at once. */
  #dead(node: string, why: string): void {
    const n = this.#nodes.get(node);
    if (!n || n.status === "DEAD" || node === this.#me) return;
    n.status = "DEAD";
    const message = `node ${node} ${why}`;
    logger.warn(`${message}; replacing its replicas`, { node });
    for (const r of [...this.#remote.values()]) if (r.node === node) r.exited(new ReplicaDiedError(`replica ${r.id} died: ${message}`));
    this.#forgetNode(node, message);
  }

  /** Node `node` has no replica left here: its proxy's thread goes, and every node closes the ports from it. */
  #forgetNode(node: string, message: string): void {
    this.controller.removeThread(nodeMain.name(node), message);
    this.#agent.bridge.nodeGone(node);
    tell(this.nc, this.subjects.all, "nodeGone", { node });
  }

  /** A node's main thread (its proxy's client), as the controller drives it. */
  #remoteMain(node: string): CallerThread {
    const call = (method: string, ...args: unknown[]) => this.ask(node, "thread", { method, args }).catch(() => undefined);
    return {
      remote: true,
      addLink: () => {},
      setReplicas: (key, ids, limits) => call("setReplicas", key, ids, limits).then(() => {}),
      unavailable: (key, message, name) => void call("unavailable", key, message, name),
      replicaDied: (id, message) => void call("replicaDied", id, message),
      setDirectory: () => {},
      setModels: (id, ids) => void call("setModels", id, ids),
      queued: (key) => call("queued", key).then((n) => (typeof n === "number" ? n : 0)),
    };
  }

  /** A thread on another node asks the controller (subscribe, connect, ...). */
  #fromThread(thread: string, op: string, args: unknown[]): void {
    const r = this.#remote.get(thread);
    if (r) return void (r.api as unknown as Record<string, (...a: unknown[]) => void>)[op]?.(...args);
    if (!nodeMain.node(thread)) return;
    if (op === "subscribe") this.controller.subscribe(thread, args[0] as string, args[1] as string);
    else if (op === "connect") this.controller.connect(thread, args[0] as string);
    else if (op === "demand") this.controller.demandArrived();
  }

  /**
   * Every node's proxy serves every route: they hear of each change. Not while a restarted head
   * takes its applications back: until then the nodes keep serving the routes they have.
   */
  publishRoutes(): void {
    if (this.#adoptable) return;
    tell(this.nc, this.subjects.all, "routes", this.runtime.routes());
  }

  nodes(): Record<string, NodeStatusInfo> {
    const counts = new Map<string, number>();
    for (const r of this.controller.replicaWorkers()) if (r.alive) counts.set(r.node ?? this.#me, (counts.get(r.node ?? this.#me) ?? 0) + 1);
    const out: Record<string, NodeStatusInfo> = {};
    for (const [id, n] of this.#nodes) out[id] = { status: n.status, replicas: counts.get(id) ?? 0, httpUrl: n.httpUrl, head: id === this.#me };
    return out;
  }

  // --- NodeLine ---

  ask<T>(node: string, op: string, body: unknown, timeoutMs = 30_000): Promise<T> {
    return ask<T>(this.nc, this.subjects.node(node), op, body, timeoutMs).catch((err: unknown) => {
      // Invariant: no replica is placed on a node that nobody listens for (it died less than
      // DEAD_AFTER_MS ago, or it is reconnecting), until it is heard from again. Otherwise each
      // start attempt of a deployment went there, failed at once, and the deployment gave up.
      const n = this.#nodes.get(node);
      if (n && noResponders(err)) n.unreachableAt = performance.now();
      throw err;
    });
  }

  tell(node: string, op: string, body: unknown): void {
    tell(this.nc, this.subjects.node(node), op, body);
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    clearInterval(this.#beat);
    for (const s of this.#subs) s.unsubscribe();
    this.#agent.bridge.close();
    this.controller.cluster = undefined;
    await this.nc.drain().catch(() => {});
  }
}
