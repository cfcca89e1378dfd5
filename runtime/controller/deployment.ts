/**
 * A deployment's replicas as the controller keeps them: how many are wanted (fixed, or the
 * autoscaler's target), starting them (with bounded retries), replacing ones that die,
 * scaling in place, and its status.
 */
import type { DeploymentSpec } from "../../sdk/graph.ts";
import type { DeploymentStatus, DeploymentStatusInfo, ReplicaState, ReplicaStatusInfo } from "../../sdk/status.ts";
import type { RouterLimits } from "../router/router.ts";
import { Autoscaler, pickToStop } from "./autoscaler.ts";
import type { ManagedReplica } from "./worker.ts";
import { startErrorSummary } from "./start-error.ts";
import { logger } from "../log/logger.ts";
import { replicaStarted } from "../metrics/main.ts";

/** What a replica reports for status: multiplexed model loads, unloads and load time (ms), and its requests. */
export interface ReplicaStats {
  loads: number;
  unloads: number;
  loadMsTotal: number;
  /** Requests running or waiting at the replica. */
  ongoing: number;
  /** How long the oldest of them has been there (ms); 0 when none. */
  oldestMs: number;
}

/** A replica whose every slot has been held this long is shown as stalled in status. */
export const STALLED_AFTER_MS = 30_000;

/** How many times one replica slot may fail to start before the deployment has failed. */
export const START_ATTEMPTS = 3;

export interface DeploymentEvents {
  /** The set of running replicas changed (route it); resolves once every caller routes by it. */
  changed(d: DeploymentState): void | Promise<unknown>;
  /** A replica died unexpectedly (fail what it had in flight). */
  died(d: DeploymentState, r: ManagedReplica, err: Error): void;
  /** Make a replica (the controller wires its Worker to the rest). */
  create(d: DeploymentState): ManagedReplica;
  directory(): import("../replica/directory.ts").Directory;
}

export class DeploymentState {
  replicas: ManagedReplica[] = [];
  status: DeploymentStatus = "UPDATING";
  message = "";
  /** Set when `numReplicas` is "auto": it owns the target. */
  autoscaler: Autoscaler | undefined;
  #stopped = false;
  /** Reconciles under way (autoscaling retries only when none is). */
  #busy = 0;
  #retryAt = 0;
  /** Replicas still starting, and how to abandon each (a scale-down, or stop). */
  readonly #cancelStart = new Map<ManagedReplica, () => void>();

  constructor(
    readonly appName: string,
    public spec: DeploymentSpec,
    readonly events: DeploymentEvents,
  ) {
    if (spec.options.numReplicas === "auto") this.autoscaler = new Autoscaler(spec.options.autoscalingConfig);
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** New options on a redeploy that keeps the replicas: autoscaling starts, stops or takes new settings. */
  updateSpec(spec: DeploymentSpec): void {
    this.spec = spec;
    if (spec.options.numReplicas !== "auto") this.autoscaler = undefined;
    else if (this.autoscaler) this.autoscaler.reconfigure(spec.options.autoscalingConfig);
    else this.autoscaler = new Autoscaler(spec.options.autoscalingConfig, this.#live().length);
  }

  get key(): string {
    return `${this.appName}/${this.spec.name}`;
  }

  get limits(): RouterLimits {
    return { maxOngoingRequests: this.spec.options.maxOngoingRequests, maxQueuedRequests: this.spec.options.maxQueuedRequests };
  }

  /** What decides whether replicas can be kept on redeploy: the code's place and version, and the arguments. */
  static version(spec: DeploymentSpec): string {
    return JSON.stringify([spec.source, spec.kind, spec.args, spec.codeVersion], (_k, v) =>
      ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number>) : v instanceof ArrayBuffer ? Array.from(new Uint8Array(v)) : v,
    );
  }

  get wanted(): number {
    const n = this.spec.options.numReplicas;
    return n === "auto" ? (this.autoscaler?.target ?? 1) : n;
  }

  /** Replicas not stopping: running, or starting. */
  #live(): ManagedReplica[] {
    return this.replicas.filter((r) => r.state !== "STOPPING");
  }

  running(): ManagedReplica[] {
    return this.replicas.filter((r) => r.state === "RUNNING");
  }

  /**
   * Starts replicas until `wanted` run (rejecting with the replica's error after bounded
   * retries), or stops the extra ones, starting ones first. Several may run at once
   * (autoscaling, recovery): each counts the replicas still starting as there.
   */
  async reconcile(): Promise<void> {
    this.#busy++;
    try {
      const missing = this.wanted - this.#live().length;
      if (missing > 0) {
        // A deployment recovering from a lost replica stays UNHEALTHY until it is whole again.
        if (this.status !== "UNHEALTHY") this.status = this.replicas.length ? "UPSCALING" : "UPDATING";
        await Promise.all(Array.from({ length: missing }, () => this.#startOne()));
      } else if (missing < 0) {
        this.status = "DOWNSCALING";
        await Promise.all(pickToStop(this.replicas, -missing).map((r) => this.#stopOne(r)));
      }
    } finally {
      this.#busy--;
    }
    // Another reconcile still under way settles the status when it ends.
    if (!this.#stopped && this.replicas.every((r) => r.state === "RUNNING") && this.replicas.length === this.wanted) {
      this.status = "HEALTHY";
      this.message = "";
    }
  }

  /**
   * One autoscaling step (the controller's tick): records the metric, lets the policy decide,
   * and starts or stops replicas when its target moves; retries a failed scale-up each second.
   */
  autoscale(now: number, totalRequests: number): void {
    const a = this.autoscaler;
    if (!a || this.#stopped) return;
    a.record(now, totalRequests);
    const before = a.target;
    a.decide(now, this.running().length);
    if (a.target !== before) {
      const why = a.lastDecision?.reason ? `: ${a.lastDecision.reason}` : "";
      logger.info(`autoscaling from ${before} to ${a.target} replicas${why}`, { application: this.appName, deployment: this.spec.name });
    }
    const behind = this.#live().length !== a.target && this.#busy === 0 && now >= this.#retryAt;
    if (a.target === before && !behind) return;
    this.reconcile().catch((err: Error) => {
      if (this.#stopped) return;
      this.status = "UNHEALTHY";
      this.message = err.message;
      this.#retryAt = now + 1000;
    });
  }

  async #startOne(): Promise<void> {
    let lastError: unknown;
    for (let attempt = 1; attempt <= START_ATTEMPTS && !this.#stopped; attempt++) {
      const r = this.events.create(this);
      this.replicas.push(r);
      // A canceller takes `r` out of #cancelStart before calling: still there means not cancelled.
      const abandon = new Promise<void>((resolve) => this.#cancelStart.set(r, resolve));
      try {
        const starting = (async () => {
          await r.start(this.events.directory());
          // A replica whose first health check fails never takes traffic.
          await this.#check(r);
        })();
        starting.catch(() => {});
        // A cancelled start is the canceller's to clean up; the Worker's pending answer may never come.
        await Promise.race([starting, abandon]);
        if (!this.#cancelStart.delete(r)) return;
        r.state = "RUNNING";
        if (this.#stopped) return void r.kill();
        replicaStarted(this.appName, this.spec.name);
        logger.info("replica started", this.#where(r));
        r.onExit((err) => this.#lost(r, err));
        this.events.changed(this);
        return;
      } catch (err) {
        if (!this.#cancelStart.delete(r)) return;
        lastError = err;
        logger.warn(`replica failed to start (attempt ${attempt} of ${START_ATTEMPTS}): ${startErrorSummary(err)}`, this.#where(r));
        this.#remove(r);
        r.kill();
      }
    }
    if (this.#stopped) return;
    const msg = lastError instanceof Error ? `${lastError.name}: ${lastError.message}` : String(lastError);
    if (this.status !== "UNHEALTHY") this.status = "DEPLOY_FAILED";
    this.message = `replica failed to start after ${START_ATTEMPTS} attempts: ${startErrorSummary(lastError)}`;
    // The whole stack once, when the deployment gives up (not once per attempt: they fail alike).
    logger.error(`replica failed to start: ${(lastError as Error)?.stack ?? msg}`, { application: this.appName, deployment: this.spec.name });
    // The caller (serve.run, tsserve deploy on another terminal) may not see this process's log: where it failed goes along.
    const err = new Error(`deployment ${this.spec.name} of application ${this.appName} failed to deploy: ${startErrorSummary(lastError)}`);
    if (lastError instanceof Error && lastError.stack) err.stack = lastError.stack;
    throw err;
  }

  /** One health check: `checkHealth()` within `healthCheckTimeoutMs`. */
  async #check(r: ManagedReplica): Promise<void> {
    const ms = this.spec.options.healthCheckTimeoutMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        r.host.checkHealth(),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`health check timed out after ${ms} ms`)), ms))),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  #healthTimer: ReturnType<typeof setInterval> | undefined;
  #failures = new Map<ManagedReplica, number>();

  /** Checks every running replica each `healthCheckPeriodMs`; 3 failures in a row replace it. */
  watchHealth(): void {
    clearInterval(this.#healthTimer);
    this.#healthTimer = setInterval(() => {
      for (const r of this.running()) {
        this.#check(r).then(
          () => this.#failures.delete(r),
          (err) => {
            const n = (this.#failures.get(r) ?? 0) + 1;
            this.#failures.set(r, n);
            logger.warn(`replica failed health check ${n} of 3: ${(err as Error).message}`, this.#where(r));
            if (n < 3 || this.#stopped || r.state !== "RUNNING") return;
            this.#failures.delete(r);
            // UNHEALTHY, and a replacement starting, now: the failed replica may take up to
            // gracefulShutdownTimeoutMs to finish what it has in flight.
            r.state = "STOPPING";
            this.status = "UNHEALTHY";
            this.message = `replica ${r.id} failed 3 health checks in a row: ${(err as Error).message}`;
            void Promise.resolve(this.events.changed(this))
              .then(() => r.stop(this.spec.options.gracefulShutdownTimeoutMs))
              .finally(() => {
                this.#remove(r);
                this.events.changed(this);
                if (!this.#stopped) this.#recover(); // settles the status once it is whole
              });
            this.#recover();
          },
        );
      }
    }, this.spec.options.healthCheckPeriodMs);
    (this.#healthTimer as { unref?: () => void }).unref?.();
  }

  /** A running replica died: tell callers, then start a replacement. */
  #lost(r: ManagedReplica, err: Error): void {
    logger.warn(`replica died: ${err.message}${this.#stopped ? "" : "; starting a replacement"}`, this.#where(r));
    this.#remove(r);
    this.events.died(this, r, err);
    // Frees what the dead Worker still holds here (its Comlink proxy, the controller's port to it).
    r.kill();
    this.events.changed(this);
    if (this.#stopped) return;
    this.status = "UNHEALTHY";
    this.message = err.message;
    this.#recover();
  }

  /** Starts replacements until the deployment is whole again, backing off between failures. */
  #recover(delayMs = 0): void {
    const timer = setTimeout(() => {
      this.reconcile().catch((e) => {
        if (this.#stopped) return;
        this.status = "UNHEALTHY";
        this.message = (e as Error).message;
        this.#recover(Math.min(Math.max(delayMs * 2, 500), 10_000));
      });
    }, delayMs);
    (timer as { unref?: () => void }).unref?.();
  }

  /** A replica's fields in log records. */
  #where(r: ManagedReplica): { application: string; deployment: string; replica: string } {
    return { application: this.appName, deployment: this.spec.name, replica: r.id };
  }

  #remove(r: ManagedReplica): void {
    this.replicas = this.replicas.filter((x) => x !== r);
  }

  async #stopOne(r: ManagedReplica): Promise<void> {
    const cancel = this.#cancelStart.get(r);
    r.state = "STOPPING";
    if (cancel) {
      // Still starting: it never took traffic, so there is nothing to drain.
      this.#cancelStart.delete(r);
      cancel();
      this.#remove(r);
      r.kill();
      return;
    }
    // Every caller routes without it (acknowledged) before it drains: none sends it a new request.
    await this.events.changed(this);
    await r.stop(this.spec.options.gracefulShutdownTimeoutMs);
    this.#remove(r);
    this.events.changed(this);
  }

  /**
   * Replaces `r` without failing what it serves (its node is leaving): a replacement starts,
   * callers stop routing to `r`, then it drains and stops.
   */
  async retire(r: ManagedReplica): Promise<void> {
    if (!this.replicas.includes(r) || r.state === "STOPPING" || this.#stopped) return;
    // Invariant: one replacement per replica retired. One still starting is abandoned (as a
    // scale-down does): its start, which its node's leaving ends, is not tried again beside it.
    const cancel = this.#cancelStart.get(r);
    this.#cancelStart.delete(r);
    cancel?.();
    r.state = "STOPPING";
    const replaced = this.reconcile().catch((err: Error) => {
      this.status = "UNHEALTHY";
      this.message = err.message;
      // Invariant: a deployment short of replicas keeps trying, as after a loss (no node had room
      // for the replacement: one that joins later takes it). It stayed short for good before.
      if (!this.#stopped) this.#recover(500);
    });
    await this.events.changed(this);
    await r.stop(this.spec.options.gracefulShutdownTimeoutMs);
    this.#remove(r);
    this.events.changed(this);
    await replaced;
  }

  /** Stops every replica gracefully. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#healthTimer);
    for (const cancel of this.#cancelStart.values()) cancel();
    this.#cancelStart.clear();
    const all = this.replicas;
    for (const r of all) r.state = "STOPPING";
    this.events.changed(this);
    await Promise.all(all.map((r) => r.stop(this.spec.options.gracefulShutdownTimeoutMs)));
    this.replicas = [];
  }

  /** The deployment as serve.status() shows it; `stats`: what each replica reported, where it answered. */
  info(stats: ReadonlyMap<string, ReplicaStats>): DeploymentStatusInfo {
    const replicaStates: Partial<Record<ReplicaState, number>> = {};
    for (const r of this.replicas) replicaStates[r.state] = (replicaStates[r.state] ?? 0) + 1;
    const replicas = this.replicas.map((r): ReplicaStatusInfo => {
      const row: ReplicaStatusInfo = { replicaId: r.id, state: r.state, multiplexedModelIds: [...r.models], ...(r.node !== undefined && { node: r.node }) };
      const s = stats.get(r.id);
      if (s) Object.assign(row, { modelLoads: s.loads, modelUnloads: s.unloads, modelLoadMsTotal: s.loadMsTotal, ongoingRequests: s.ongoing, oldestRequestMs: Math.round(s.oldestMs) });
      return row;
    });
    // A request that never ends holds its slot forever: say so where every slot of a replica is held that way.
    const max = this.spec.options.maxOngoingRequests;
    const stalled = replicas.filter((r) => (r.ongoingRequests ?? 0) >= max && (r.oldestRequestMs ?? 0) >= STALLED_AFTER_MS);
    const stalledNote = stalled.map((r) => `replica ${r.replicaId} has had all ${max} request slots busy for ${Math.round(r.oldestRequestMs! / 1000)} s or more`).join("; ");
    const info: DeploymentStatusInfo = {
      status: this.status,
      message: [this.message, stalledNote].filter(Boolean).join("; "),
      replicaStates,
      replicas,
      targetReplicas: this.wanted,
      currentReplicas: this.running().length,
    };
    const a = this.autoscaler;
    if (a) {
      const { minReplicas, maxReplicas } = a.config;
      info.autoscaling = { totalRequests: Math.round(a.average() * 100) / 100, minReplicas, maxReplicas, lastDecision: a.lastDecision };
    }
    return info;
  }
}
