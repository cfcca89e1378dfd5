/**
 * The controller: which applications exist, their deployments and replicas, who calls whom
 * (every caller thread gets a direct port to every replica it routes to), and status.
 */
import * as Comlink from "comlink";
import { DeploymentUnavailableError, ServeError } from "../../sdk/errors.ts";
import type { AppSpec, DeploymentSpec } from "../../sdk/graph.ts";
import type { ApplicationStatus, ServeStatus } from "../../sdk/status.ts";
import type { RouterLimits } from "../router/router.ts";
import type { PortLike } from "../wire/port.ts";
import type { Directory } from "../replica/directory.ts";
import type { ControllerForReplica } from "../replica/host.ts";
import { DeploymentState, type ReplicaStats } from "./deployment.ts";
import { type ManagedReplica, ReplicaWorker } from "./worker.ts";
import { logger } from "../log/logger.ts";
import { scraper } from "../metrics/scrape.ts";

/** A thread that calls replicas: the main thread, or a replica holding handles. */
export interface CallerThread {
  /** `remote`: the port is bridged to another node (routers prefer replicas on their own node). */
  addLink(replicaId: string, port: PortLike, remote?: boolean): void;
  /** Resolves once the thread routes by the new set. */
  setReplicas(key: string, ids: string[], limits: RouterLimits): void | Promise<void>;
  unavailable(key: string, message: string, name: string): void;
  replicaDied(replicaId: string, message: string): void;
  setDirectory(directory: Directory): void;
  setModels(replicaId: string, ids: string[]): void;
  /** Requests it has queued for deployment `key` (the autoscaling metric). */
  queued(key: string): number | Promise<number>;
  /** It runs on another node: it hears of replicas that die from the cluster's broadcast, not one by one. */
  remote?: boolean;
}

/**
 * What a cluster head (cluster/head.ts) adds to the controller: where replicas run, and ports
 * between threads and replicas on different nodes. Without one, everything is in this process.
 */
export interface ClusterHooks {
  /** A replica of `d` on another node, or undefined to start it in this process. */
  place(d: DeploymentState, api: ControllerForReplica): ManagedReplica | undefined;
  /** A replica was made in this process. */
  placedHere(r: ManagedReplica): void;
  /** Connects `thread` to `replicaId` when either is on another node; false when both are here. */
  connect(thread: string, replicaId: string): boolean;
  /** `id` (a replica, or a node's proxy thread) is gone: every other node hears of it. */
  gone(id: string, message: string): void;
}

/** How often autoscaled deployments are measured; no timer runs while none is autoscaled. */
const AUTOSCALE_PERIOD_MS = 100;
/** A measurement slower than this (a replica that stopped answering) is skipped. */
const MEASURE_TIMEOUT_MS = 1000;

export interface AppState {
  spec: AppSpec;
  status: ApplicationStatus;
  message: string;
  deployments: Map<string, DeploymentState>;
}

export class Controller {
  readonly apps = new Map<string, AppState>();
  /** Live deployments by "app/deployment": what routers route to. */
  readonly #live = new Map<string, DeploymentState>();
  readonly #threads = new Map<string, CallerThread>();
  readonly #subscribers = new Map<string, Set<string>>();
  readonly #connected = new Set<string>();
  readonly #replicas = new Map<string, ManagedReplica>();
  /** Called when routes change (the proxy rebuilds its table). */
  onRoutesChanged: () => void = () => {};
  /** Set by a cluster head before anything is deployed. */
  cluster: ClusterHooks | undefined;
  /** Makes a replica in this process: a Worker (the cluster's simulation puts a stand-in here). */
  newReplica = (appName: string, spec: DeploymentSpec, api: ControllerForReplica): ManagedReplica => new ReplicaWorker(appName, spec, api);

  constructor(main: CallerThread) {
    this.#threads.set("main", main);
  }

  /** A caller thread of another node (its proxy) joins. */
  addThread(name: string, thread: CallerThread): void {
    this.#threads.set(name, thread);
  }

  /** A thread of another node is gone (its node died): its routes, ports and calls are dropped everywhere. */
  removeThread(name: string, message: string): void {
    if (this.#threads.delete(name)) this.#forgetThread(name, message);
  }

  /** Deploys (or redeploys) an application; resolves when every replica runs. */
  async deploy(spec: AppSpec): Promise<void> {
    if (spec.routePrefix !== null) {
      for (const [name, app] of this.apps) {
        if (name !== spec.name && app.spec.routePrefix === spec.routePrefix) {
          throw new ServeError(`routePrefix "${spec.routePrefix}" is already used by application "${name}"; choose another prefix or delete that application`);
        }
      }
    }
    const old = this.apps.get(spec.name);
    const app: AppState = { spec, status: "DEPLOYING", message: "", deployments: new Map() };
    const starting: DeploymentState[] = [];
    const replaced: DeploymentState[] = [];
    const reconfigured: Promise<void>[] = [];
    for (const dspec of spec.deployments) {
      const prev = old?.deployments.get(dspec.name);
      if (prev && DeploymentState.version(prev.spec) === DeploymentState.version(dspec) && prev.status !== "DEPLOY_FAILED") {
        reconfigured.push(this.#updateInPlace(prev, dspec));
        app.deployments.set(dspec.name, prev);
        continue;
      }
      const d = new DeploymentState(spec.name, dspec, this.#events);
      app.deployments.set(dspec.name, d);
      starting.push(d);
      if (prev) replaced.push(prev);
      else this.#live.set(d.key, d);
    }
    const dropped = old ? [...old.deployments.values()].filter((d) => !app.deployments.has(d.spec.name) ) : [];
    this.apps.set(spec.name, app);
    this.#watchAutoscaling();
    this.#broadcastDirectory();
    // Routed from now on: requests that come while replicas start wait in the proxy's queue.
    this.onRoutesChanged();
    try {
      await Promise.all([...starting.map((d) => d.reconcile()), ...reconfigured]);
    } catch (err) {
      app.status = "DEPLOY_FAILED";
      app.message = (err as Error).message;
      for (const d of starting) {
        this.#live.set(d.key, d);
        this.#closeRoutes(d.key, new DeploymentUnavailableError(`${spec.name} is unavailable because it failed to deploy.`));
        void d.stop();
      }
      this.onRoutesChanged();
      throw err;
    }
    // Swap the new deployments in, then let the replaced ones finish what they were doing.
    // Every caller routes to the new replicas before the old ones stop, so none is sent to a stopping replica.
    const published: Promise<unknown>[] = [];
    for (const d of starting) {
      this.#live.set(d.key, d);
      published.push(this.#publish(d));
      d.watchHealth();
    }
    await Promise.all(published);
    app.status = "RUNNING";
    this.#watchAutoscaling();
    this.onRoutesChanged();
    await Promise.all([...replaced, ...dropped].map((d) => this.#retire(d)));
  }

  async #updateInPlace(d: DeploymentState, spec: AppSpec["deployments"][number]): Promise<void> {
    const before = d.spec.options;
    d.updateSpec(spec);
    if (before.loggingConfig?.logLevel !== spec.options.loggingConfig?.logLevel) this.setLogLevels();
    if (before.maxOngoingRequests !== spec.options.maxOngoingRequests) {
      await Promise.all(d.replicas.map((r) => r.host.setMaxOngoing(spec.options.maxOngoingRequests)));
    }
    if (!sameJson(before.userConfig, spec.options.userConfig) && spec.options.userConfig !== undefined) {
      await Promise.all(d.running().map((r) => r.host.reconfigure(spec.options.userConfig)));
    }
    await d.reconcile();
    await this.#publish(d);
  }

  async #retire(d: DeploymentState): Promise<void> {
    if (this.#live.get(d.key) === d) {
      this.#live.delete(d.key);
      this.#closeRoutes(d.key, new DeploymentUnavailableError(`deployment ${d.key} was deleted`));
    }
    await d.stop();
  }

  /** Removes an application; idempotent (a delete under way is waited for, not started again). */
  delete(name: string): Promise<void> {
    const app = this.apps.get(name);
    if (!app) return Promise.resolve();
    let deleting = this.#deleting.get(app);
    if (!deleting) this.#deleting.set(app, (deleting = this.#delete(name, app)));
    return deleting;
  }

  readonly #deleting = new WeakMap<AppState, Promise<void>>();

  async #delete(name: string, app: AppState): Promise<void> {
    app.status = "DELETING";
    this.onRoutesChanged();
    // Callers first: a deployment stops once every deployment holding a handle to it has
    // drained, so the requests those finish can still make their downstream calls.
    const retired = new Map<DeploymentState, Promise<void>>();
    const retire = (d: DeploymentState): Promise<void> => {
      let done = retired.get(d);
      if (!done) {
        retired.set(d, Promise.resolve()); // a cycle (not made by bind) would stop here
        const callers = [...app.deployments.values()].filter((c) => c !== d && c.spec.handles.includes(d.spec.name));
        retired.set(d, (done = Promise.all(callers.map(retire)).then(() => this.#retire(d))));
      }
      return done;
    };
    await Promise.all([...app.deployments.values()].map(retire));
    this.apps.delete(name);
    scraper.forgetApplication(name);
    logger.info(`application ${name} deleted`, { application: name });
    this.#watchAutoscaling();
    this.#broadcastDirectory();
    this.onRoutesChanged();
  }

  async shutdown(): Promise<void> {
    await Promise.all([...this.apps.keys()].map((n) => this.delete(n)));
  }

  /** A thread asks for the replicas of a deployment (now and as they change). */
  subscribe(thread: string, appName: string, deploymentName: string): void {
    const key = `${appName}/${deploymentName}`;
    let subs = this.#subscribers.get(key);
    if (!subs) this.#subscribers.set(key, (subs = new Set()));
    subs.add(thread);
    const d = this.#live.get(key);
    if (!d) {
      const app = this.apps.get(appName);
      if (!app?.deployments.has(deploymentName)) {
        this.#threads.get(thread)?.unavailable(key, `no deployment "${deploymentName}" in application "${appName}"`, "DeploymentUnavailableError");
      }
      return;
    }
    if (d.status === "DEPLOY_FAILED") {
      this.#threads.get(thread)?.unavailable(key, `${appName} is unavailable because it failed to deploy.`, "DeploymentUnavailableError");
      return;
    }
    this.#publishTo(thread, d);
  }

  /**
   * The links of `thread` may have been lost (its node was off NATS): each is made again when
   * the thread next subscribes or connects (its node keeps those it has).
   */
  linksLost(thread: string): void {
    for (const pair of [...this.#connected]) if (pair.startsWith(`${thread}>`)) this.#connected.delete(pair);
  }

  /** Gives `thread` a direct port to `replicaId` (if it has none). */
  connect(thread: string, replicaId: string): void {
    const pair = `${thread}>${replicaId}`;
    if (this.#connected.has(pair)) return;
    const r = this.#replicas.get(replicaId);
    const t = this.#threads.get(thread);
    if (!r || !t || !r.alive) return void t?.replicaDied(replicaId, `replica ${replicaId} is not running`);
    this.#connected.add(pair);
    if (this.cluster?.connect(thread, replicaId)) return;
    const { port1, port2 } = new MessageChannel();
    void r.host.accept(Comlink.transfer(port2, [port2]), thread);
    t.addLink(replicaId, port1);
  }

  #publish(d: DeploymentState): Promise<unknown> {
    return Promise.all([...(this.#subscribers.get(d.key) ?? [])].map((thread) => this.#publishTo(thread, d)));
  }

  async #publishTo(thread: string, d: DeploymentState): Promise<void> {
    const t = this.#threads.get(thread);
    if (!t) return;
    const running = d.running();
    for (const r of running) {
      this.connect(thread, r.id);
      if (r.models.length) t.setModels(r.id, r.models);
    }
    // A replica that died meanwhile cannot answer; that must not hold the publish up.
    await Promise.resolve(t.setReplicas(d.key, running.map((r) => r.id), d.limits)).catch(() => {});
  }

  #closeRoutes(key: string, err: Error): void {
    for (const thread of this.#subscribers.get(key) ?? []) this.#threads.get(thread)?.unavailable(key, err.message, err.name);
  }

  #broadcastDirectory(): void {
    const dir = this.directory();
    for (const [name, t] of this.#threads) if (name !== "main") t.setDirectory(dir);
  }

  directory(): Directory {
    const dir: Directory = {};
    for (const [name, app] of this.apps) dir[name] = { ingress: app.spec.ingress, deployments: [...app.deployments.keys()] };
    return dir;
  }

  #autoscaleTimer: ReturnType<typeof setInterval> | undefined;
  #measuring = false;

  /** Runs the autoscaling tick while some live deployment autoscales, and only then. */
  #watchAutoscaling(): void {
    const any = [...this.#live.values()].some((d) => d.autoscaler && !d.stopped);
    if (any && !this.#autoscaleTimer) {
      this.#autoscaleTimer = setInterval(() => void this.#autoscaleTick(), AUTOSCALE_PERIOD_MS);
      (this.#autoscaleTimer as { unref?: () => void }).unref?.();
    } else if (!any && this.#autoscaleTimer) {
      clearInterval(this.#autoscaleTimer);
      this.#autoscaleTimer = undefined;
    }
  }

  /**
   * A request waits for a deployment with no replicas: measure now instead of at the next
   * tick, so a deployment scaled to zero starts its first replica at once (as Ray's handles
   * push their metrics at once when they find no replica).
   */
  demandArrived(): void {
    if (this.#measuring) this.#measureAgain = true;
    else void this.#autoscaleTick();
  }

  #measureAgain = false;

  async #autoscaleTick(): Promise<void> {
    if (this.#measuring) return;
    this.#measuring = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const scaled = [...this.#live.values()].filter((d) => d.autoscaler && !d.stopped && d.status !== "DEPLOY_FAILED");
      if (scaled.length === 0) return this.#watchAutoscaling();
      const demand = await Promise.race([
        Promise.all(scaled.map((d) => this.#demand(d))),
        new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), MEASURE_TIMEOUT_MS))),
      ]);
      const now = performance.now();
      if (demand) scaled.forEach((d, i) => d.autoscale(now, demand[i]!));
    } finally {
      clearTimeout(timer);
      this.#measuring = false;
      // Demand that arrived during this measure may have missed it.
      if (this.#measureAgain) {
        this.#measureAgain = false;
        void this.#autoscaleTick();
      }
    }
  }

  /** Requests for `d` queued at its callers plus ongoing at its running replicas. */
  async #demand(d: DeploymentState): Promise<number> {
    const counts: (number | Promise<number>)[] = [];
    for (const thread of this.#subscribers.get(d.key) ?? []) counts.push(this.#threads.get(thread)?.queued(d.key) ?? 0);
    for (const r of d.running()) counts.push(r.host.ongoing());
    // A replica that ends meanwhile counts nothing.
    const got = await Promise.all(counts.map((c) => Promise.resolve(c).catch(() => 0)));
    return got.reduce((a, b) => a + b, 0);
  }

  readonly #events = {
    changed: (d: DeploymentState) => (this.#live.get(d.key) === d ? this.#publish(d) : undefined),
    died: (_d: DeploymentState, r: ManagedReplica, err: Error) => this.#forgetReplica(r, err.message),
    create: (d: DeploymentState): ManagedReplica => this.#createReplica(d),
    directory: () => this.directory(),
  };

  #createReplica(d: DeploymentState): ManagedReplica {
    // The replica's own requests to the controller, bound to its name.
    let id = "";
    const api: ControllerForReplica = {
      subscribe: (appName, deploymentName) => this.subscribe(id, appName, deploymentName),
      connect: (replicaId) => this.connect(id, replicaId),
      demandArrived: () => this.demandArrived(),
      log: (records) => {
        for (const rec of records) logger.write(rec);
      },
      reportModels: (ids) => {
        r.models = ids;
        for (const thread of this.#subscribers.get(d.key) ?? []) this.#threads.get(thread)?.setModels(r.id, ids);
      },
    };
    const remote = this.cluster?.place(d, api);
    const r: ManagedReplica = remote ?? this.newReplica(d.appName, d.spec, api);
    if (!remote) this.cluster?.placedHere(r);
    id = r.id;
    this.#replicas.set(r.id, r);
    this.#threads.set(r.id, {
      // A replica elsewhere gets its ports from its node, and news of deaths from the cluster's broadcast.
      ...(remote && { remote: true }),
      // Only real MessagePorts reach a Worker (the bridge's own ports stay on the main thread).
      // Invariant: no call to a replica's host is left to reject unhandled (that ends a Bun
      // process): on another node one fails when the replica or its node is gone (no answer,
      // no responders), and what it said is moot then.
      addLink: (replicaId, port) => void r.host.addLink(replicaId, Comlink.transfer(port as MessagePort, [port as MessagePort])).catch(() => {}),
      setReplicas: (key, ids, limits) => (r.alive ? r.host.setReplicas(key, ids, limits) : undefined),
      unavailable: (key, message, name) => void r.host.unavailable(key, message, name).catch(() => {}),
      replicaDied: (replicaId, message) => void r.host.replicaDied(replicaId, message).catch(() => {}),
      setDirectory: (dir) => void r.host.setDirectory(dir).catch(() => {}),
      setModels: (replicaId, ids) => void r.host.setModels(replicaId, ids).catch(() => {}),
      queued: (key) => (r.alive ? r.host.queuedFor(key) : 0),
    });
    r.onExit((err) => {
      // A replica that dies while starting never took traffic, but others may hold ports to it.
      if (r.state === "STARTING") this.#forgetReplica(r, err.message);
    });
    r.onKilled = () => this.#forgetReplica(r, `replica ${r.id} stopped`);
    return r;
  }

  /** A replica is gone: every thread drops its port to it, and it stops being a caller. */
  #forgetReplica(r: ManagedReplica, message: string): void {
    if (!this.#replicas.delete(r.id)) return;
    this.#threads.delete(r.id);
    this.#forgetThread(r.id, message);
  }

  /** Thread `id` (a replica, or another node's proxy) is gone: its ports and routes are dropped, and every caller fails what it had in flight there. */
  #forgetThread(id: string, message: string): void {
    for (const pair of [...this.#connected]) {
      const [from, to] = pair.split(">");
      if (to === id || from === id) this.#connected.delete(pair);
    }
    for (const subs of this.#subscribers.values()) subs.delete(id);
    for (const t of this.#threads.values()) if (!t.remote) t.replicaDied(id, message);
    this.cluster?.gone(id, message);
  }

  /** Replaces replica `id` without failing what it serves (see DeploymentState.retire). */
  async retire(id: string): Promise<void> {
    for (const app of this.apps.values()) {
      for (const d of app.deployments.values()) {
        const r = d.replicas.find((x) => x.id === id);
        if (r) return d.retire(r);
      }
    }
  }

  /** The replica with id `id`, wherever it runs. */
  replica(id: string): ManagedReplica | undefined {
    return this.#replicas.get(id);
  }

  /** Tells every replica its deployment's log level (its loggingConfig's, else the instance's), after either changed. */
  setLogLevels(): void {
    for (const app of this.apps.values()) {
      for (const d of app.deployments.values()) {
        const level = d.spec.options.loggingConfig?.logLevel ?? logger.settings.logLevel;
        for (const r of d.replicas) if (r.alive) void r.host.setLogLevel(level).catch(() => {});
      }
    }
  }

  /** Every replica the controller holds (metrics scrapes ask each). */
  replicaWorkers(): Iterable<ManagedReplica> {
    return this.#replicas.values();
  }

  /** Each running replica's multiplexed model loads, unloads and load time (a replica that does not answer within 1 s is left out). */
  async #replicaStats(): Promise<Map<string, ReplicaStats>> {
    const out = new Map<string, ReplicaStats>();
    await Promise.all(
      [...this.#replicas.values()].filter((r) => r.state === "RUNNING").map(async (r) => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const stats = await Promise.race([r.host.stats(), new Promise<undefined>((ok) => (timer = setTimeout(() => ok(undefined), 1000)))]).catch(() => undefined);
        clearTimeout(timer);
        if (stats) out.set(r.id, stats);
      }),
    );
    return out;
  }

  /** Every application, its deployments and their replicas, as serve.status() shows them. */
  async status(): Promise<ServeStatus["applications"]> {
    const stats = await this.#replicaStats();
    const out: ServeStatus["applications"] = {};
    for (const [name, app] of this.apps) {
      const deployments: Record<string, ReturnType<DeploymentState["info"]>> = {};
      for (const [dn, d] of app.deployments) deployments[dn] = d.info(stats);
      let status = app.status;
      if (status === "RUNNING" && Object.values(deployments).some((d) => d.status === "UNHEALTHY")) status = "UNHEALTHY";
      out[name] = { status, message: app.message, routePrefix: app.spec.routePrefix, deployments };
    }
    return out;
  }
}

/** Deep JSON equality, whatever the key order (userConfig: the same value again is no change). */
function sameJson(a: unknown, b: unknown): boolean {
  const canon = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(canon) : v && typeof v === "object" ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon((v as Record<string, unknown>)[k])])) : v;
  return JSON.stringify(canon(a)) === JSON.stringify(canon(b));
}
