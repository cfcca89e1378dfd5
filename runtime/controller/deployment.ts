/**
 * A deployment's replicas as the controller keeps them: how many are wanted, starting them
 * (with bounded retries), replacing ones that die, scaling in place, and its status.
 */
import type { DeploymentSpec } from "../../sdk/graph.ts";
import type { DeploymentStatus, DeploymentStatusInfo, ReplicaState } from "../../sdk/status.ts";
import type { RouterLimits } from "../router/router.ts";
import { ReplicaWorker } from "./worker.ts";

/** How many times one replica slot may fail to start before the deployment has failed. */
export const START_ATTEMPTS = 3;

export interface DeploymentEvents {
  /** The set of running replicas changed (route it). */
  changed(d: DeploymentState): void;
  /** A replica died unexpectedly (fail what it had in flight). */
  died(d: DeploymentState, r: ReplicaWorker, err: Error): void;
  /** Make a replica (the controller wires its Worker to the rest). */
  create(d: DeploymentState): ReplicaWorker;
  directory(): import("../replica/directory.ts").Directory;
}

export class DeploymentState {
  replicas: ReplicaWorker[] = [];
  status: DeploymentStatus = "UPDATING";
  message = "";
  #stopped = false;

  constructor(
    readonly appName: string,
    public spec: DeploymentSpec,
    readonly events: DeploymentEvents,
  ) {}

  get key(): string {
    return `${this.appName}/${this.spec.name}`;
  }

  get limits(): RouterLimits {
    return { maxOngoingRequests: this.spec.options.maxOngoingRequests, maxQueuedRequests: this.spec.options.maxQueuedRequests };
  }

  /** What decides whether replicas can be kept on redeploy: the code's place and the arguments. */
  static version(spec: DeploymentSpec): string {
    return JSON.stringify([spec.source, spec.kind, spec.args], (_k, v) =>
      ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number>) : v instanceof ArrayBuffer ? Array.from(new Uint8Array(v)) : v,
    );
  }

  get wanted(): number {
    const n = this.spec.options.numReplicas;
    if (n === "auto") return this.spec.options.autoscalingConfig?.initialReplicas ?? this.spec.options.autoscalingConfig?.minReplicas ?? 1;
    return n;
  }

  running(): ReplicaWorker[] {
    return this.replicas.filter((r) => r.state === "RUNNING");
  }

  /** Starts replicas until `wanted` run; rejects with the replica's error after bounded retries. */
  async reconcile(): Promise<void> {
    const missing = this.wanted - this.replicas.filter((r) => r.state !== "STOPPING").length;
    if (missing > 0) {
      // A deployment recovering from a lost replica stays UNHEALTHY until it is whole again.
      if (this.status !== "UNHEALTHY") this.status = this.replicas.length ? "UPSCALING" : "UPDATING";
      await Promise.all(Array.from({ length: missing }, () => this.#startOne()));
    } else if (missing < 0) {
      this.status = "DOWNSCALING";
      const extra = this.replicas.filter((r) => r.state !== "STOPPING").slice(missing);
      await Promise.all(extra.map((r) => this.#stopOne(r)));
    }
    if (!this.#stopped) {
      this.status = "HEALTHY";
      this.message = "";
    }
  }

  async #startOne(): Promise<void> {
    let lastError: unknown;
    for (let attempt = 1; attempt <= START_ATTEMPTS && !this.#stopped; attempt++) {
      const r = this.events.create(this);
      this.replicas.push(r);
      try {
        await r.start(this.events.directory());
        // A replica whose first health check fails never takes traffic.
        await this.#check(r);
        r.state = "RUNNING";
        if (this.#stopped) return void r.kill();
        r.onExit((err) => this.#lost(r, err));
        this.events.changed(this);
        return;
      } catch (err) {
        lastError = err;
        this.#remove(r);
        r.kill();
      }
    }
    if (this.#stopped) return;
    const msg = lastError instanceof Error ? `${lastError.name}: ${lastError.message}` : String(lastError);
    if (this.status !== "UNHEALTHY") this.status = "DEPLOY_FAILED";
    this.message = `replica failed to start after ${START_ATTEMPTS} attempts: ${msg}`;
    const err = new Error(`deployment ${this.spec.name} of application ${this.appName} failed to deploy: ${msg}`);
    if (lastError instanceof Error && lastError.stack) err.stack = lastError.stack;
    throw err;
  }

  /** One health check: `checkHealth()` within `healthCheckTimeoutMs`. */
  async #check(r: ReplicaWorker): Promise<void> {
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
  #failures = new Map<ReplicaWorker, number>();

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
            if (n < 3 || this.#stopped || r.state !== "RUNNING") return;
            this.#failures.delete(r);
            r.state = "STOPPING";
            this.events.changed(this);
            void r.stop(this.spec.options.gracefulShutdownTimeoutMs).finally(() =>
              this.#lost(r, new Error(`replica ${r.id} failed 3 health checks in a row: ${(err as Error).message}`)),
            );
          },
        );
      }
    }, this.spec.options.healthCheckPeriodMs);
    (this.#healthTimer as { unref?: () => void }).unref?.();
  }

  /** A running replica died: tell callers, then start a replacement. */
  #lost(r: ReplicaWorker, err: Error): void {
    this.#remove(r);
    this.events.died(this, r, err);
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

  #remove(r: ReplicaWorker): void {
    this.replicas = this.replicas.filter((x) => x !== r);
  }

  async #stopOne(r: ReplicaWorker): Promise<void> {
    r.state = "STOPPING";
    this.events.changed(this);
    await r.stop(this.spec.options.gracefulShutdownTimeoutMs);
    this.#remove(r);
    this.events.changed(this);
  }

  /** Stops every replica gracefully. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#healthTimer);
    const all = this.replicas;
    for (const r of all) r.state = "STOPPING";
    this.events.changed(this);
    await Promise.all(all.map((r) => r.stop(this.spec.options.gracefulShutdownTimeoutMs)));
    this.replicas = [];
  }

  info(): DeploymentStatusInfo {
    const replicaStates: Partial<Record<ReplicaState, number>> = {};
    for (const r of this.replicas) replicaStates[r.state] = (replicaStates[r.state] ?? 0) + 1;
    const replicas = this.replicas.map((r) => ({ replicaId: r.id, state: r.state, multiplexedModelIds: [...r.models] }));
    return { status: this.status, message: this.message, replicaStates, replicas };
  }
}
