/**
 * The main thread's runtime: the controller, the HTTP proxy and the main thread's client,
 * plugged into the SDK (this is what `serve.start()`/`serve.run()` reach).
 */
import { ServeError } from "../sdk/errors.ts";
import type { Application } from "../sdk/deployment.ts";
import { buildAppSpec } from "../sdk/graph.ts";
import { installRuntime, type LoggingSettings, type Call, type CallOptions, type HandleTarget, type Runtime, type RunOptions, type StartOptions, type StreamCall } from "../sdk/runtime.ts";
import type { NodeStatusInfo, ServeStatus } from "../sdk/status.ts";
import { type CallerThread, Controller } from "./controller/controller.ts";
import type { Route } from "./proxy/routes.ts";
import type { RouteSource } from "./router/client.ts";
import { listenError, registerBuiltins, serveHttp, type HttpServer } from "./platform/index.ts";
import { DEFAULT_MAX_BODY, Proxy, proxyFetch, WebSockets } from "./proxy/index.ts";
import { resolveTarget } from "./replica/directory.ts";
import { Client } from "./router/client.ts";
import { watchMainThread } from "./metrics/main.ts";
import { scraper } from "./metrics/scrape.ts";
import { countingFromEnv, switches } from "./metrics/switch.ts";
import { logger } from "./log/logger.ts";
import { applyLogging } from "./log/settings.ts";

export const DEFAULT_HTTP = { host: "127.0.0.1", port: 8000 };
/** The largest WebSocket message a client may send unless `http.maxWebSocketMessageBytes` says otherwise. */
export const DEFAULT_MAX_WEBSOCKET_MESSAGE = 16 * 1024 * 1024;

/** A cluster's worker node: its main thread's name, and the head it asks for routes (cluster/worker_node.ts). */
export interface WorkerNodeMain {
  name: string;
  routes: RouteSource;
}

/** The routes the proxy serves, and the applications that failed to deploy (their requests get 503). */
export interface RouteSet {
  routes: Route[];
  failed: string[];
}

export class MainRuntime implements Runtime {
  readonly client: Client;
  readonly controller: Controller;
  /** This thread as the controller drives it (a cluster's node agent drives it too). */
  readonly mainThread: CallerThread;
  /** On a worker node: the head's routes, as last broadcast. */
  #clusterRoutes: RouteSet | undefined;
  /** On a cluster's head: the nodes, for status. */
  cluster: { nodes(): Record<string, NodeStatusInfo> } | undefined;
  #proxy: Proxy | undefined;
  #websockets: WebSockets | undefined;
  #server: HttpServer | undefined;
  #starting: Promise<{ httpUrl: string }> | undefined;

  constructor(node?: WorkerNodeMain) {
    this.client = new Client(node?.name ?? "main", node?.routes ?? {
      subscribe: (t) => queueMicrotask(() => this.controller.subscribe("main", t.appName, t.deploymentName)),
      connect: (id) => queueMicrotask(() => this.controller.connect("main", id)),
      demand: () => queueMicrotask(() => this.controller.demandArrived()),
    });
    const client = this.client;
    this.mainThread = {
      addLink: (id, port, remote) => client.addLink(id, port, remote),
      setReplicas: (key, ids, limits) => client.setReplicas(key, ids, limits),
      unavailable: (key, message, name) => {
        const err = new ServeError(message);
        err.name = name;
        client.unavailable(key, err);
      },
      replicaDied: (id, message) => {
        const err = new ServeError(message);
        err.name = "ReplicaDiedError";
        client.replicaDied(id, err);
      },
      setDirectory: () => {},
      setModels: (id, ids) => client.setModels(id, ids),
      queued: (key) => client.queuedFor(key),
    };
    this.controller = new Controller(this.mainThread);
    this.controller.onRoutesChanged = () => this.#updateRoutes();
    watchMainThread(this.controller, this.client, () => this.#websockets?.counts() ?? []);
  }

  start(options: StartOptions = {}): Promise<{ httpUrl: string }> {
    this.#starting ??= this.#start(options);
    return this.#starting;
  }

  async #start(options: StartOptions): Promise<{ httpUrl: string }> {
    await registerBuiltins();
    if (options.logging !== undefined) applyLogging(options.logging, "serve.start(): logging");
    switches.counting = countingFromEnv();
    const http = { ...DEFAULT_HTTP, ...options.http };
    if (!Number.isInteger(http.port) || http.port < 0 || http.port > 65535) throw new TypeError(`http.port must be an integer from 0 to 65535, got ${http.port}`);
    const timeout = http.requestTimeoutMs ?? null;
    if (timeout !== null && !(typeof timeout === "number" && timeout > 0)) throw new TypeError(`http.requestTimeoutMs must be a number > 0 or null, got ${timeout}`);
    const maxMessageBytes = http.maxWebSocketMessageBytes ?? DEFAULT_MAX_WEBSOCKET_MESSAGE;
    if (!Number.isInteger(maxMessageBytes) || maxMessageBytes < 1) {
      this.#starting = undefined;
      throw new TypeError(`http.maxWebSocketMessageBytes must be an integer >= 1 (bytes), got ${maxMessageBytes}`);
    }
    this.#proxy = new Proxy(this.client, { maxBodyBytes: DEFAULT_MAX_BODY, requestTimeoutMs: timeout }, (name) =>
      (this.#clusterRoutes?.failed.includes(name) ?? this.controller.apps.get(name)?.status === "DEPLOY_FAILED") ? "failed" : "ok",
    );
    this.#websockets = new WebSockets(this.client, this.#proxy);
    try {
      this.#server = serveHttp(
        { host: http.host, port: http.port, maxRequestBodySize: DEFAULT_MAX_BODY + 1, websocket: { maxMessageBytes } },
        proxyFetch(this.#proxy, this.#websockets),
      );
    } catch (err) {
      this.#starting = undefined;
      throw new ServeError(listenError(err, http.host, http.port, { port: "serve.start({ http: { port } })", host: "serve.start({ http: { host } })" }));
    }
    this.#updateRoutes();
    return { httpUrl: this.#server.url };
  }

  async run(app: Application, options: Required<RunOptions>): Promise<HandleTarget> {
    const spec = buildAppSpec(app, options.name, options.routePrefix);
    await this.start();
    await this.controller.deploy(spec);
    return { appName: spec.name, deploymentName: spec.ingress };
  }

  delete(name: string): Promise<void> {
    return this.controller.delete(name);
  }

  async shutdown(): Promise<void> {
    // Until the listener closes, requests that still arrive get 503, not the 404 of an emptied route table.
    this.#proxy?.drain();
    await this.controller.shutdown();
    await this.#server?.stop();
    this.client.close();
    this.#server = undefined;
    this.#proxy = undefined;
    this.#websockets = undefined;
    installRuntime(undefined);
    logger.reset();
    if (current === this) current = undefined;
  }

  async status(): Promise<ServeStatus> {
    const applications = await this.controller.status();
    for (const [name, app] of Object.entries(applications)) app.numOngoingWebsockets = this.#websockets?.count(name) ?? 0;
    const status: ServeStatus = { proxy: { url: this.#server?.url ?? null, status: this.#server ? "HEALTHY" : "NOT_STARTED" }, applications };
    if (this.cluster) status.nodes = this.cluster.nodes();
    return status;
  }

  /** Every thread's metrics, merged (what GET /metrics answers). */
  metrics(): Promise<string> {
    return scraper.scrape();
  }

  /** Changes the instance's logging in place (a config's `logging:`); replicas take the new level. */
  configureLogging(logging: LoggingSettings): void {
    applyLogging(logging, "logging");
    this.controller.setLogLevels();
    this.#updateRoutes();
  }

  target(appName: string, deploymentName?: string): HandleTarget {
    return resolveTarget(this.controller.directory(), appName, deploymentName);
  }

  call(target: HandleTarget, options: CallOptions, method: string, args: unknown[]): Call {
    return this.client.call(target, options, method, args);
  }

  stream(target: HandleTarget, options: CallOptions, method: string, args: unknown[]): StreamCall {
    return this.client.stream(target, options, method, args);
  }

  get proxy(): Proxy | undefined {
    return this.#proxy;
  }

  /** The proxy's open WebSockets (for status and the `tsserve_num_ongoing_websockets` gauge). */
  get websockets(): WebSockets | undefined {
    return this.#websockets;
  }

  /** The routes of this instance's applications (a cluster's head sends them to every node). */
  routes(): RouteSet {
    const routes: Route[] = [];
    const failed: string[] = [];
    for (const [name, app] of this.controller.apps) {
      if (app.status === "DEPLOY_FAILED") failed.push(name);
      if (app.spec.routePrefix === null || app.status === "DELETING") continue;
      const accessLog = app.spec.deployments.find((d) => d.name === app.spec.ingress)?.options.loggingConfig?.enableAccessLog;
      routes.push({ prefix: app.spec.routePrefix, appName: name, deploymentName: app.spec.ingress, ...(accessLog !== undefined && { accessLog }) });
    }
    return { routes, failed };
  }

  /** A worker node serves the head's routes. */
  setClusterRoutes(set: RouteSet): void {
    this.#clusterRoutes = set;
    this.#updateRoutes();
  }

  #updateRoutes(): void {
    this.#proxy?.routes.set((this.#clusterRoutes ?? this.routes()).routes);
  }
}

let current: MainRuntime | undefined;

/** The main thread's runtime (a fresh one after shutdown); `node`: made as a cluster's worker node. */
export function mainRuntime(node?: WorkerNodeMain): MainRuntime {
  if (node && current) throw new ServeError("a worker node's runtime must be made before anything else starts serve");
  return (current ??= new MainRuntime(node));
}
