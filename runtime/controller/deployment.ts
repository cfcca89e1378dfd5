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
      this.status = this.replicas.length ? "UPSCALING" : "UPDATING";
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
    this.status = "DEPLOY_FAILED";
    this.message = `replica failed to start after ${START_ATTEMPTS} attempts: ${msg}`;
    const err = new Error(`deployment ${this.spec.name} of application ${this.appName} failed to deploy: ${msg}`);
    if (lastError instanceof Error && lastError.stack) err.stack = lastError.stack;
    throw err;
  }

  /** A running replica died: tell callers, then start a replacement. */
  #lost(r: ReplicaWorker, err: Error): void {
    this.#remove(r);
    this.events.died(this, r, err);
    this.events.changed(this);
    if (this.#stopped) return;
    this.status = "UNHEALTHY";
    this.message = err.message;
    this.reconcile().catch(() => {
      /* status holds the failure */
    });
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
    const all = this.replicas;
    for (const r of all) r.state = "STOPPING";
    this.events.changed(this);
    await Promise.all(all.map((r) => r.stop(this.spec.options.gracefulShutdownTimeoutMs)));
    this.replicas = [];
  }

  info(): DeploymentStatusInfo {
    const replicaStates: Partial<Record<ReplicaState, number>> = {};
    for (const r of this.replicas) replicaStates[r.state] = (replicaStates[r.state] ?? 0) + 1;
    return { status: this.status, message: this.message, replicaStates };
  }
}
