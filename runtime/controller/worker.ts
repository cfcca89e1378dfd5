/**
 * One replica as the controller sees it: its Worker, the Comlink proxy that drives it, its
 * state, and how it ends (gracefully, or by dying).
 */
import * as Comlink from "comlink";
import type { DeploymentSpec } from "../../sdk/graph.ts";
import type { ReplicaState } from "../../sdk/status.ts";
import { startWorker } from "../platform/index.ts";
import type { Directory } from "../replica/directory.ts";
import type { ControllerForReplica, ReplicaHost } from "../replica/host.ts";
import { logger } from "../log/logger.ts";
import { scraper, withTimeout, SCRAPE_WAIT_MS } from "../metrics/scrape.ts";
import { switches } from "../metrics/switch.ts";

const ENTRY = "runtime/replica/entry.ts";

/** A busy machine can starve a healthy Worker's event loop for seconds (a tight healthCheckTimeoutMs is for health checks only). */
const HEARTBEAT_FLOOR_MS = 10_000;

let seq = 0;
const suffix = Math.random().toString(36).slice(2, 6);

/** A fresh replica id, unique across processes (its suffix is random per process). */
export const newReplicaId = (appName: string, deploymentName: string): string => `${appName}#${deploymentName}#${suffix}${(++seq).toString(36)}`;

/** A replica as the controller drives it: in a Worker of this process, or on another node (cluster/remote_replica.ts). */
export interface ManagedReplica {
  readonly id: string;
  readonly appName: string;
  readonly spec: DeploymentSpec;
  state: ReplicaState;
  models: string[];
  /** The node it runs on, in a cluster. */
  node?: string;
  readonly host: Comlink.Remote<ReplicaHost>;
  readonly alive: boolean;
  start(directory: Directory): Promise<void>;
  onExit(listener: (err: Error) => void): void;
  stop(timeoutMs: number): Promise<void>;
  kill(): void;
  onKilled: (() => void) | undefined;
}

export class ReplicaWorker implements ManagedReplica {
  readonly id: string;
  node?: string;
  state: ReplicaState = "STARTING";
  /** Multiplexed model ids it holds or is loading, as it last reported. */
  models: string[] = [];
  readonly host: Comlink.Remote<ReplicaHost>;
  readonly #worker: Worker;
  /** Kept referenced for the Worker's life (a collected endpoint would drop replica calls). */
  readonly #controllerPort: MessagePort;
  #exited = false;
  #onExit: ((err: Error) => void)[] = [];

  constructor(
    readonly appName: string,
    readonly spec: DeploymentSpec,
    controllerApi: ControllerForReplica,
    /** Given by the head when it places the replica on this node. */
    id = newReplicaId(appName, spec.name),
  ) {
    this.id = id;
    // Where no exit event tells (Deno), a Worker silent as long as a health check may take, and at
    // least HEARTBEAT_FLOOR_MS, is as good as dead.
    this.#worker = startWorker(ENTRY, {
      onDeath: (reason) => this.#exit(new Error(`replica ${this.id} ${reason}`)),
      heartbeat: { timeoutMs: Math.max(spec.options.healthCheckTimeoutMs, HEARTBEAT_FLOOR_MS) },
    });
    this.host = Comlink.wrap<ReplicaHost>(this.#worker as unknown as Comlink.Endpoint);
    const { port1, port2 } = new MessageChannel();
    this.#controllerPort = port1;
    Comlink.expose(controllerApi, port1 as unknown as Comlink.Endpoint);
    this.#replicaEnd = port2;
  }

  #replicaEnd: MessagePort | undefined;

  /**
   * In a cluster: the spec the Worker starts from, with its module where this node keeps the
   * deployed code (cluster/code.ts); `spec` stays as deployed.
   */
  locate: ((spec: DeploymentSpec) => Promise<DeploymentSpec>) | undefined;

  /** Imports, constructs and initialises the replica; rejects with the user's error, or if the Worker dies. */
  async start(directory: Directory): Promise<void> {
    const exited = new Promise<never>((_, reject) => this.onExit(reject));
    const spec = this.locate ? await Promise.race([this.locate(this.spec), exited]) : this.spec;
    const port = this.#replicaEnd!;
    this.#replicaEnd = undefined;
    const logLevel = this.spec.options.loggingConfig?.logLevel ?? logger.settings.logLevel;
    const init = { replicaId: this.id, appName: this.appName, spec, directory, controller: port, logLevel, metrics: switches.counting };
    await Promise.race([this.host.start(Comlink.transfer(init, [port])), exited]);
  }

  /** Runs `listener` once, if the Worker crashes or exits (not when stopped on purpose). */
  onExit(listener: (err: Error) => void): void {
    if (this.#exited) return;
    this.#onExit.push(listener);
  }

  #exit(err: Error): void {
    if (this.#exited) return;
    this.#exited = true;
    const listeners = this.#onExit;
    this.#onExit = [];
    for (const l of listeners) l(err);
  }

  get alive(): boolean {
    return !this.#exited;
  }

  /** Drains (up to `timeoutMs`), disposes, then ends the Worker. */
  async stop(timeoutMs: number): Promise<void> {
    if (this.#exited) return;
    this.state = "STOPPING";
    this.#onExit = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        this.host.stop(timeoutMs),
        new Promise<void>((r) => (timer = setTimeout(r, timeoutMs + 1000))),
        new Promise<void>((r) => this.onExit(() => r())),
      ]);
      // Its final counts, so the deployment's counters do not go back when it is gone (bounded wait).
      const figures = this.state === "STOPPING" && this.alive ? await withTimeout(this.host.metrics(), SCRAPE_WAIT_MS) : undefined;
      if (figures) scraper.keepFinal(this.id, this.appName, figures);
    } catch {
      // The replica failed while stopping: it is ended below all the same.
    } finally {
      clearTimeout(timer);
      this.kill();
    }
  }

  /** Ends the Worker now. */
  #killed = false;

  kill(): void {
    if (this.#killed) return;
    this.#killed = true;
    this.#onExit = [];
    this.#exited = true;
    this.host[Comlink.releaseProxy]();
    this.#controllerPort.close();
    this.#worker.terminate();
    this.onKilled?.();
  }

  /** Runs once when the Worker is ended on purpose (stop or kill). */
  onKilled: (() => void) | undefined;
}
