/**
 * What the controller drives in a replica's Worker, over Comlink: start (import, construct,
 * init), data-plane ports in and out, routes, health, reconfigure, graceful stop.
 */
import * as Comlink from "comlink";
import { setReplicaContext } from "../../sdk/context.ts";
import { errorToData, RequestCancelledError } from "../../sdk/errors.ts";
import type { DeploymentSpec } from "../../sdk/graph.ts";
import { HANDLE_MARKER } from "../../sdk/graph.ts";
import { makeHandle } from "../../sdk/handle.ts";
import { installRuntime } from "../../sdk/runtime.ts";
import { disposeAllModels, multiplexStats, onModelIdsChanged } from "../../sdk/multiplexed.ts";
import { Client } from "../router/client.ts";
import type { RouterLimits } from "../router/router.ts";
import { BatchedPort } from "../wire/port.ts";
import { K, type ToCaller, type ToReplica } from "../wire/protocol.ts";
import { registerBuiltins } from "../platform/index.ts";
import type { Directory } from "./directory.ts";
import { loadTarget } from "./load.ts";
import { quietCancellations } from "./quiet.ts";
import { type CallerPort, Replica } from "./replica.ts";
import { ReplicaRuntime } from "./runtime.ts";
import type { ReplicaStats } from "../controller/deployment.ts";
import { startReplicaMetrics } from "../metrics/replica.ts";
import { threadFigures } from "../metrics/builtin.ts";
import { readQueues } from "../metrics/caller.ts";
import { switches } from "../metrics/switch.ts";
import { captureConsole, type ReplicaLogging } from "../log/console.ts";
import type { LogRecord } from "../log/record.ts";
import type { LogLevel } from "../../sdk/options.ts";

/** What a replica may ask of the controller. */
export interface ControllerForReplica {
  subscribe(appName: string, deploymentName: string): void;
  connect(replicaId: string): void;
  /** The multiplexed model ids this replica holds or is loading. */
  reportModels(ids: string[]): void;
  /** A call waits for a deployment with no replicas (see RouteSource.demand). */
  demandArrived(): void;
  /** Log records of this replica (its console), to be written by the main thread. */
  log(records: LogRecord[]): void;
}

export interface ReplicaInit {
  replicaId: string;
  appName: string;
  spec: DeploymentSpec;
  directory: Directory;
  controller: MessagePort;
  /** The deployment's log level (its loggingConfig, else the instance's). */
  logLevel?: LogLevel;
  /** Whether to count metrics (TSSERVE_METRICS=0 in the main thread turns it off). */
  metrics?: boolean;
}

export class ReplicaHost {
  #replica: Replica | undefined;
  #client: Client | undefined;
  #runtime: ReplicaRuntime | undefined;
  #instance: any;
  /** Kept referenced: a collected Comlink proxy leaves its calls hanging (DESIGN.md). */
  #controller: Comlink.Remote<ControllerForReplica> | undefined;
  #waitingPorts: CallerPort[] = [];
  #ports = new Set<CallerPort>();
  #spec: DeploymentSpec | undefined;
  /** Set while a reconfigure waits for in-flight requests: it holds the calls that arrive meanwhile. */
  #gate: Gate | undefined;
  #reconfiguring: Promise<void> = Promise.resolve();
  #health: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #logging: ReplicaLogging | undefined;

  async start(init: ReplicaInit): Promise<void> {
    const { replicaId, appName, spec } = init;
    this.#spec = spec;
    switches.counting = init.metrics ?? true;
    setReplicaContext({ appName, deploymentName: spec.name, replicaId });
    const controller = (this.#controller = Comlink.wrap<ControllerForReplica>(init.controller));
    this.#logging = captureConsole({ application: appName, deployment: spec.name, replica: replicaId }, (r) => void controller.log(r), init.logLevel ?? "info");
    const client = (this.#client = new Client(replicaId, {
      subscribe: (t) => void controller.subscribe(t.appName, t.deploymentName),
      connect: (id) => void controller.connect(id),
      demand: () => void controller.demandArrived(),
    }));
    readQueues(() => client.queues());
    const runtime = (this.#runtime = new ReplicaRuntime(client, appName));
    runtime.directory = init.directory;
    installRuntime(runtime);
    quietCancellations();
    await registerBuiltins();
    for (const name of spec.handles) client.router({ appName, deploymentName: name });
    onModelIdsChanged((ids) => void controller.reportModels(ids));

    const target = await loadTarget(spec.source, runtime.runReached);
    const args = spec.args.map((a) => reviveHandles(a, appName));
    const instance = spec.kind === "class" ? new (target as new (...a: unknown[]) => unknown)(...args) : target;
    this.#instance = instance;
    if (spec.kind === "class" && typeof (instance as any).init === "function") await (instance as any).init();
    if (spec.options.userConfig !== undefined) await this.reconfigure(spec.options.userConfig);
    this.#replica = new Replica(replicaId, appName, spec, instance, client);
    startReplicaMetrics({ application: appName, deployment: spec.name, replica: replicaId }, () => this.ongoing());
    for (const p of this.#waitingPorts) this.#attach(p);
    this.#waitingPorts = [];
  }

  /** A caller's port: its calls come in here. */
  accept(port: MessagePort, caller: string): void {
    this.#replica?.callerBack(caller);
    const cp: CallerPort = { caller, port: new BatchedPort<ToCaller, ToReplica>(port) };
    this.#ports.add(cp);
    // Until constructed, messages wait in the port: it starts when a handler is set.
    if (this.#replica) this.#attach(cp);
    else this.#waitingPorts.push(cp);
  }

  /** Sends the port's messages to the replica, or through the gate while a reconfigure holds calls. */
  #attach(cp: CallerPort): void {
    const replica = this.#replica!;
    replica.addCaller(cp);
    const gate = this.#gate;
    cp.port.listen(gate ? (msg) => gate.take(cp, msg, replica) : (msg) => replica.receive(cp, msg));
  }

  /** A cluster's head restarted: ask it for the replicas of every deployment this replica calls. */
  resubscribe(): void {
    this.#client?.resubscribe();
  }

  setModels(replicaId: string, ids: string[]): void {
    this.#client?.setModels(replicaId, ids);
  }

  addLink(replicaId: string, port: MessagePort, remote = false): void {
    this.#client?.addLink(replicaId, port, remote);
  }

  setReplicas(key: string, ids: string[], limits: RouterLimits): void {
    this.#client?.setReplicas(key, ids, limits);
  }

  unavailable(key: string, message: string, name: string): void {
    const err = new Error(message);
    err.name = name;
    this.#client?.unavailable(key, err);
  }

  replicaDied(replicaId: string, message: string): void {
    const err = new Error(message);
    err.name = "ReplicaDiedError";
    this.#client?.replicaDied(replicaId, err);
    this.#gate?.callerGone(replicaId);
    this.#replica?.callerGone(replicaId);
    this.#replica?.sockets.callerGone(replicaId);
  }

  setDirectory(directory: Directory): void {
    if (this.#runtime) this.#runtime.directory = directory;
  }

  setMaxOngoing(n: number): void {
    this.#replica?.setMaxOngoing(n);
  }

  /** Runs `checkHealth()` if the instance has one; a check still running is shared, not started again. */
  checkHealth(): Promise<void> {
    return (this.#health ??= this.#checkHealth().finally(() => (this.#health = undefined)));
  }

  async #checkHealth(): Promise<void> {
    const check = this.#instance?.checkHealth;
    if (typeof check === "function") await check.call(this.#instance);
  }

  /**
   * Applies a new userConfig. Once the replica serves, calls that arrive are held while the
   * ones in flight finish (up to `gracefulShutdownTimeoutMs`), so every request sees one config
   * from start to end; the held calls run after `reconfigure()` returns. Changes apply in order.
   */
  reconfigure(userConfig: unknown): Promise<void> {
    const fn = this.#instance?.reconfigure;
    if (typeof fn !== "function") {
      const name = this.#spec?.name ?? "this deployment";
      return Promise.reject(new TypeError(`${name} has userConfig set but no reconfigure(userConfig) method; add reconfigure(userConfig) to the class, or remove userConfig`));
    }
    const run = this.#reconfiguring.then(() => this.#reconfigure(fn, userConfig));
    this.#reconfiguring = run.catch(() => {});
    return run;
  }

  async #reconfigure(fn: (config: unknown) => unknown, userConfig: unknown): Promise<void> {
    const replica = this.#replica;
    if (!replica) return void (await fn.call(this.#instance, userConfig));
    if (this.#stopping) return;
    const gate = (this.#gate = new Gate());
    for (const cp of this.#ports) this.#attach(cp);
    try {
      await this.#drained(this.#spec!.options.gracefulShutdownTimeoutMs);
      if (!this.#stopping) await fn.call(this.#instance, userConfig);
    } finally {
      if (this.#gate === gate) this.#openGate();
    }
  }

  /** Lets held calls run, in the order they came. */
  #openGate(): void {
    const gate = this.#gate;
    if (!gate) return;
    this.#gate = undefined;
    for (const cp of this.#ports) this.#attach(cp);
    gate.release(this.#replica!);
  }

  /**
   * Resolves true once nothing is in flight, false after `timeoutMs`. Idle is checked again a
   * task later: a call posted before its caller dropped this replica may still be on its way.
   */
  async #drained(timeoutMs: number): Promise<boolean> {
    const replica = this.#replica;
    if (!replica) return true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    try {
      for (;;) {
        if ((await Promise.race([replica.idle().then(() => true), expired])) === false) return false;
        await new Promise((resolve) => setTimeout(resolve, 0));
        if (replica.ongoing === 0) return true;
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Requests running here, and open WebSockets (autoscaling's load: a chat is work, as in Ray Serve). */
  ongoing(): number {
    return (this.#replica?.ongoing ?? 0) + (this.#replica?.sockets.count ?? 0);
  }

  /** Requests this replica's handles have queued for deployment `key` (autoscaling's metric). */
  queuedFor(key: string): number {
    return this.#client?.queuedFor(key) ?? 0;
  }

  /**
   * Finishes what is in flight (up to `timeoutMs`), then disposes the instance, once: a second
   * call waits for the first stop instead of cutting its drain short.
   */
  stop(timeoutMs: number): Promise<void> {
    return (this.#stopping ??= this.#stop(timeoutMs));
  }

  async #stop(timeoutMs: number): Promise<void> {
    // Calls held for a reconfigure are in flight like any other: serve them before stopping.
    this.#openGate();
    const deadline = Date.now() + timeoutMs;
    await this.#drained(timeoutMs);
    // Open WebSockets get what is left of the same time, then close with 1001.
    const sockets = this.#replica?.sockets;
    if (sockets?.count) await sockets.drain(Math.max(0, deadline - Date.now()));
    const inst = this.#instance;
    try {
      await disposeAllModels().catch((err) => console.error(`[tsserve] disposing models of ${this.#replica?.id}: ${err}`));
      if (inst && typeof inst[Symbol.asyncDispose] === "function") await inst[Symbol.asyncDispose]();
      else if (inst && typeof inst[Symbol.dispose] === "function") inst[Symbol.dispose]();
    } finally {
      this.#client?.close();
      for (const p of this.#ports) p.port.close();
    }
  }

  /** The deployment's log level changed (in place). */
  setLogLevel(level: LogLevel): void {
    if (this.#logging) this.#logging.level = level;
  }

  /** This thread's metrics as prom-client JSON (the main thread merges every thread's per scrape). */
  metrics(): ReturnType<typeof threadFigures> {
    return threadFigures(true);
  }

  /** Multiplexed model loads, unloads and load time in this replica, and its requests (for status). */
  stats(): ReplicaStats {
    const { loads, unloads, loadMsTotal } = multiplexStats();
    return { loads, unloads, loadMsTotal, ongoing: this.#replica?.ongoing ?? 0, oldestMs: this.#replica?.oldestRequestMs() ?? 0 };
  }
}

/** Swaps handle markers (top level, in arrays and in plain objects) for DeploymentHandles. */
function reviveHandles(value: unknown, appName: string): unknown {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v) => reviveHandles(v, appName));
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  const rec = value as Record<string, unknown>;
  if (typeof rec[HANDLE_MARKER] === "string" && Object.keys(rec).length === 1) {
    return makeHandle({ appName, deploymentName: rec[HANDLE_MARKER] as string });
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rec)) out[k] = reviveHandles(v, appName);
  return out;
}

/**
 * Holds the calls that arrive while a reconfigure waits for in-flight requests. Later messages
 * about a held call (keep, credit, supply) wait with it, in order; cancelling a held call drops
 * it and answers at once, so its caller frees the slot.
 */
class Gate {
  readonly #held: { cp: CallerPort; msg: ToReplica }[] = [];
  readonly #calls = new Set<string>();

  take(cp: CallerPort, msg: ToReplica, replica: Replica): void {
    // A Then waits with the call it depends on; a call sent on for a caller is that caller's (protocol.ts, rule 6).
    const sentOn = (msg.k === K.Call || msg.k === K.Cancel) && msg.for !== undefined;
    const key = `${sentOn ? msg.for : cp.caller}:${msg.k === K.Then ? msg.up : msg.id}`;
    if (msg.k === K.Call) {
      this.#calls.add(key);
      this.#held.push({ cp, msg });
    } else if (msg.k === K.Pull || msg.k === K.Unpull || !this.#calls.has(key)) {
      replica.receive(cp, msg);
    } else if (msg.k === K.Cancel && (sentOn || this.#held.some((h) => h.msg.k === K.Call && h.msg.for !== undefined && `${h.msg.for}:${h.msg.id}` === key))) {
      // A call sent on is answered on its caller's port, which the replica knows: the cancel waits behind it.
      this.#held.push({ cp, msg });
    } else if (msg.k === K.Cancel) {
      this.#calls.delete(key);
      const at = this.#held.findIndex((h) => h.cp === cp && h.msg.k === K.Call && h.msg.id === msg.id);
      const call = this.#held[at]!.msg as Extract<ToReplica, { k: K.Call }>;
      for (let i = this.#held.length - 1; i >= at; i--) if (this.#held[i]!.cp === cp && this.#held[i]!.msg.id === msg.id) this.#held.splice(i, 1);
      cp.port.send({ k: K.Err, id: msg.id, e: errorToData(new RequestCancelledError(`request ${call.ctx.requestId ?? call.id} was cancelled`)) });
    } else {
      this.#held.push({ cp, msg });
    }
  }

  /** A caller thread went away: what it sent will never be answered. */
  callerGone(caller: string): void {
    for (let i = this.#held.length - 1; i >= 0; i--) {
      const h = this.#held[i]!;
      if (h.cp.caller === caller) {
        this.#calls.delete(`${caller}:${h.msg.id}`);
        this.#held.splice(i, 1);
      }
    }
  }

  release(replica: Replica): void {
    const held = this.#held.splice(0);
    this.#calls.clear();
    for (const { cp, msg } of held) replica.receive(cp, msg);
  }
}
