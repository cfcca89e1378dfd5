/**
 * What the controller drives in a replica's Worker, over Comlink: start (import, construct,
 * init), data-plane ports in and out, routes, health, reconfigure, graceful stop.
 */
import * as Comlink from "comlink";
import { setReplicaContext } from "../../sdk/context.ts";
import type { DeploymentSpec } from "../../sdk/graph.ts";
import { HANDLE_MARKER } from "../../sdk/graph.ts";
import { makeHandle } from "../../sdk/handle.ts";
import { installRuntime } from "../../sdk/runtime.ts";
import { disposeAllModels, onModelIdsChanged } from "../../sdk/multiplexed.ts";
import { Client } from "../router/client.ts";
import type { RouterLimits } from "../router/router.ts";
import { BatchedPort } from "../wire/port.ts";
import type { ToCaller, ToReplica } from "../wire/protocol.ts";
import { registerBuiltins } from "../platform/index.ts";
import type { Directory } from "./directory.ts";
import { loadTarget } from "./load.ts";
import { type CallerPort, Replica } from "./replica.ts";
import { ReplicaRuntime } from "./runtime.ts";

/** What a replica may ask of the controller. */
export interface ControllerForReplica {
  subscribe(appName: string, deploymentName: string): void;
  connect(replicaId: string): void;
  /** The multiplexed model ids this replica holds or is loading. */
  reportModels(ids: string[]): void;
}

export interface ReplicaInit {
  replicaId: string;
  appName: string;
  spec: DeploymentSpec;
  directory: Directory;
  controller: MessagePort;
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
  #stopped = false;

  async start(init: ReplicaInit): Promise<void> {
    const { replicaId, appName, spec } = init;
    setReplicaContext({ appName, deploymentName: spec.name, replicaId });
    const controller = (this.#controller = Comlink.wrap<ControllerForReplica>(init.controller));
    const client = (this.#client = new Client(replicaId, {
      subscribe: (t) => void controller.subscribe(t.appName, t.deploymentName),
      connect: (id) => void controller.connect(id),
    }));
    const runtime = (this.#runtime = new ReplicaRuntime(client, appName));
    runtime.directory = init.directory;
    installRuntime(runtime);
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
    for (const p of this.#waitingPorts) this.#attach(p);
    this.#waitingPorts = [];
  }

  /** A caller's port: its calls come in here. */
  accept(port: MessagePort, caller: string): void {
    const cp: CallerPort = { caller, port: new BatchedPort<ToCaller, ToReplica>(port) };
    this.#ports.add(cp);
    // Until constructed, messages wait in the port: it starts when a handler is set.
    if (this.#replica) this.#attach(cp);
    else this.#waitingPorts.push(cp);
  }

  #attach(cp: CallerPort): void {
    const replica = this.#replica!;
    cp.port.listen((msg) => replica.receive(cp, msg));
  }

  setModels(replicaId: string, ids: string[]): void {
    this.#client?.setModels(replicaId, ids);
  }

  addLink(replicaId: string, port: MessagePort): void {
    this.#client?.addLink(replicaId, port);
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
    this.#replica?.callerGone(replicaId);
  }

  setDirectory(directory: Directory): void {
    if (this.#runtime) this.#runtime.directory = directory;
  }

  setMaxOngoing(n: number): void {
    this.#replica?.setMaxOngoing(n);
  }

  async checkHealth(): Promise<void> {
    const check = this.#instance?.checkHealth;
    if (typeof check === "function") await check.call(this.#instance);
  }

  async reconfigure(userConfig: unknown): Promise<void> {
    const fn = this.#instance?.reconfigure;
    if (typeof fn !== "function") {
      throw new TypeError("this deployment has userConfig set but no reconfigure(userConfig) method; add one or remove userConfig");
    }
    await fn.call(this.#instance, userConfig);
  }

  ongoing(): number {
    return this.#replica?.ongoing ?? 0;
  }

  /** Finishes what is in flight (up to `timeoutMs`), then disposes the instance once. */
  async stop(timeoutMs: number): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#replica) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([this.#replica.idle(), new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
      clearTimeout(timer);
    }
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
