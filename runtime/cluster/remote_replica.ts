/**
 * A replica on another node, as the head's controller drives it: the same surface as a local
 * ReplicaWorker, with every call to its host carried to its node as a control request. It ends
 * when its node reports its Worker gone, or when the node itself is declared dead.
 */
import type * as Comlink from "comlink";
import type { DeploymentSpec } from "../../sdk/graph.ts";
import type { ReplicaState } from "../../sdk/status.ts";
import { newReplicaId, type ManagedReplica } from "../controller/worker.ts";
import type { Directory } from "../replica/directory.ts";
import type { ControllerForReplica, ReplicaHost } from "../replica/host.ts";
import { logger } from "../log/logger.ts";
import { switches } from "../metrics/switch.ts";

/** How the head reaches a node (cluster/head.ts). */
export interface NodeLine {
  ask<T>(node: string, op: string, body: unknown, timeoutMs?: number): Promise<T>;
  tell(node: string, op: string, body: unknown): void;
}

/** A host call that gets no answer within this long fails (health checks and scrapes race their own, shorter, limits). */
const HOST_CALL_TIMEOUT_MS = 30_000;

export class RemoteReplica implements ManagedReplica {
  readonly id: string;
  state: ReplicaState = "STARTING";
  models: string[] = [];
  readonly host: Comlink.Remote<ReplicaHost>;
  #exited = false;
  #killed = false;
  #onExit: ((err: Error) => void)[] = [];
  onKilled: (() => void) | undefined;

  constructor(
    readonly appName: string,
    readonly spec: DeploymentSpec,
    /** What the replica may ask of the controller: its node forwards its requests here. */
    readonly api: ControllerForReplica,
    readonly node: string,
    readonly line: NodeLine,
    /** A replica that already runs there (a restarted head takes it back), instead of a new one. */
    readonly adopt?: string,
  ) {
    this.id = adopt ?? newReplicaId(appName, spec.name);
    const id = this.id;
    this.host = new Proxy({} as Comlink.Remote<ReplicaHost>, {
      get: (_t, method) => (typeof method === "string" ? (...args: unknown[]) => line.ask(node, "host", { id, method, args }, HOST_CALL_TIMEOUT_MS) : undefined),
    });
  }

  get alive(): boolean {
    return !this.#exited;
  }

  async start(directory: Directory): Promise<void> {
    const logLevel = this.spec.options.loggingConfig?.logLevel ?? logger.settings.logLevel;
    const started = this.adopt
      ? this.line.ask(this.node, "adopt", { id: this.id, directory })
      : // No time limit of its own: a constructor may take long; the node's death ends the wait.
        this.line.ask(this.node, "spawn", { id: this.id, appName: this.appName, spec: this.spec, directory, logLevel, metrics: switches.counting }, 0);
    await Promise.race([started, new Promise<never>((_, reject) => this.onExit(reject))]);
    this.onStarted?.();
  }

  /** Runs once its Worker runs (the head records it in the cluster's state). */
  onStarted: (() => void) | undefined;

  onExit(listener: (err: Error) => void): void {
    if (this.#exited) return;
    this.#onExit.push(listener);
  }

  /** Its Worker died on its node, or its node died. */
  exited(err: Error): void {
    if (this.#exited) return;
    this.#exited = true;
    const listeners = this.#onExit;
    this.#onExit = [];
    for (const l of listeners) l(err);
  }

  async stop(timeoutMs: number): Promise<void> {
    if (this.#exited) return;
    this.state = "STOPPING";
    this.#onExit = [];
    try {
      await Promise.race([this.line.ask(this.node, "stop", { id: this.id, timeoutMs }, timeoutMs + 5000), new Promise<void>((r) => this.onExit(() => r()))]);
    } catch {
      // Its node did not answer: it is ended below all the same.
    } finally {
      this.kill();
    }
  }

  kill(): void {
    if (this.#killed) return;
    this.#killed = true;
    this.#onExit = [];
    if (!this.#exited) this.line.tell(this.node, "kill", { id: this.id });
    this.#exited = true;
    this.onKilled?.();
  }
}
