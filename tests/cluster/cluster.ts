/**
 * A cluster on this machine for a test: its own nats-server, a head and N worker nodes, each a
 * `bun cmd/tsserve.ts start --cluster ...` process on free ports (the compiled binary is tested
 * in tests/cli). `startCluster()` returns once status shows every node ALIVE; disposing it kills
 * every node and the NATS server, whatever the test did.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ServeStatus } from "../../sdk/status.ts";
import { afterAll, beforeAll } from "bun:test";
import { cleanup, cliEnv, repo, Running, tempDir } from "../cli/helpers.ts";
import { type NatsServer, startNats } from "./nats_server.ts";

export const fixtures = join(repo, "tests/cluster/fixtures/apps.ts");

const TOKEN = "cluster-test-token-0123456789abcdef0123456789abcdef";
/** A node process starts in a second or two; on a machine shared with other test runs, allow more. */
const NODE_STARTS_WITHIN_MS = 30_000;
/** How long a deploy of a few replicas may take on a busy machine. */
const DEPLOY_WITHIN_MS = 30_000;
/** An admin or proxy request unanswered for this long fails the test instead of hanging it. */
const REQUEST_TIMEOUT_MS = 15_000;

export interface Node {
  id: string;
  /** Its HTTP proxy, `http://127.0.0.1:<port>`. */
  http: string;
  pid: number;
  proc: Running;
}

export interface AppConfig {
  name: string;
  routePrefix?: string | null;
  /** `export` of tests/cluster/fixtures/apps.ts. */
  app: string;
  deployments?: Record<string, unknown>[];
}

export type Status = ServeStatus & { nodes: NonNullable<ServeStatus["nodes"]> };

/** What the admin API answers to GET (cmd/deploy.ts reads the same). */
interface AdminState extends Status {
  apply: { requested: number; completed: number; errors: Record<string, string> };
}

export class Cluster implements AsyncDisposable {
  readonly workers: Node[] = [];
  readonly #home = tempDir("cluster-home");
  /** Every node process started, killed ones too, for the logs kept on dispose. */
  readonly #spawned: Running[] = [];
  head!: Node;
  admin!: string;

  private constructor(readonly nats: NatsServer) {}

  /** Every node, the head first. */
  get nodes(): Node[] {
    return [this.head, ...this.workers];
  }

  /** The node whose process has `pid` (a replica's answer), by id. */
  nodeOfPid(pid: number): string {
    const node = this.nodes.find((n) => n.pid === pid);
    if (!node) throw new Error(`no node of this cluster has pid ${pid}`);
    return node.id;
  }

  get env(): Record<string, string> {
    return cliEnv(this.#home, { TSSERVE_TOKEN: TOKEN });
  }

  /**
   * `tsserve start` with these arguments, in a working directory of its own (where the node keeps
   * its copies of deployed code); it may fail: the caller waits for what it expects.
   */
  spawn(args: string[]): Running {
    const proc = new Running([process.execPath, join(repo, "cmd/tsserve.ts"), "start", ...args], { cwd: tempDir("cluster-node"), env: this.env });
    this.#spawned.push(proc);
    return proc;
  }

  /** Kills the head (`kill -9`) and starts it again on the same cluster; resolves once it serves. */
  async restartHead(): Promise<void> {
    const old = this.head.proc;
    old.proc.kill("SIGKILL");
    await old.proc.exited;
    const head = this.spawn(["--head", "--cluster", this.nats.url, "--node-id", "head", "--port", "0", "--admin-port", "0"]);
    this.head = await nodeUp("head", head);
    this.admin = (await head.waitFor(/Admin API at (http:\/\/[\d.]+:\d+)/, NODE_STARTS_WITHIN_MS))[1]!;
  }

  /** PUTs `config` (the whole config) to the admin API and waits until the apply finished; its errors by application. */
  async apply(config: { applications: Record<string, unknown>[] }): Promise<Record<string, string>> {
    const res = await fetch(`${this.admin}/api/serve/applications/`, {
      method: "PUT",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify(config),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    if (res.status !== 200) throw new Error(`apply: ${res.status} ${await res.text()}`);
    return this.#finished(((await res.json()) as { generation: number }).generation, "apply");
  }

  async #finished(generation: number, what: string): Promise<Record<string, string>> {
    const deadline = performance.now() + DEPLOY_WITHIN_MS;
    for (;;) {
      const state = await this.#get();
      if (state.apply.completed >= generation) return state.apply.completed === generation ? state.apply.errors : {};
      if (performance.now() > deadline) throw new Error(`${what} not done within ${DEPLOY_WITHIN_MS} ms`);
      await Bun.sleep(100);
    }
  }

  static async start(workers = 2): Promise<Cluster> {
    const cluster = new Cluster(await startNats());
    try {
      const head = cluster.spawn(["--head", "--cluster", cluster.nats.url, "--node-id", "head", "--port", "0", "--admin-port", "0"]);
      cluster.head = await nodeUp("head", head);
      cluster.admin = (await head.waitFor(/Admin API at (http:\/\/[\d.]+:\d+)/, NODE_STARTS_WITHIN_MS))[1]!;
      await Promise.all(Array.from({ length: workers }, (_, i) => cluster.addWorker(`w${i + 1}`)));
      return cluster;
    } catch (e) {
      await cluster[Symbol.asyncDispose]();
      throw e;
    }
  }

  /** Starts worker node `id` (on NATS at `natsUrl`, the cluster's server by default) and waits until the head shows it ALIVE. */
  async addWorker(id: string, natsUrl = this.nats.url): Promise<Node> {
    const node = await nodeUp(id, this.spawn(["--cluster", natsUrl, "--node-id", id, "--port", "0"]));
    this.workers.push(node);
    await this.until(`node ${id} ALIVE`, (s) => s.nodes[id]?.status === "ALIVE");
    return node;
  }

  async #get(): Promise<AdminState> {
    const res = await fetch(`${this.admin}/api/serve/applications/`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    if (res.status !== 200) throw new Error(`admin API answered ${res.status}: ${await res.text()}`);
    return (await res.json()) as AdminState;
  }

  async status(): Promise<Status> {
    return await this.#get();
  }

  /** Polls status until `ok` holds (bounded); returns that status. */
  async until(what: string, ok: (s: Status) => boolean, timeoutMs = DEPLOY_WITHIN_MS): Promise<Status> {
    const deadline = performance.now() + timeoutMs;
    let last: Status | undefined;
    while (performance.now() < deadline) {
      last = await this.status();
      if (ok(last)) return last;
      await Bun.sleep(100);
    }
    throw new Error(`no ${what} within ${timeoutMs} ms; last status: ${JSON.stringify(last, null, 1)}`);
  }

  /**
   * Adds (or replaces) one application from the fixtures through the admin API and waits until
   * the apply finished; returns its errors by application (empty when it deployed).
   */
  async deploy(app: AppConfig): Promise<Record<string, string>> {
    const config = {
      applications: [{ name: app.name, routePrefix: app.routePrefix === undefined ? `/${app.name}` : app.routePrefix, importPath: `${fixtures}:${app.app}`, ...(app.deployments && { deployments: app.deployments }) }],
    };
    const res = await fetch(`${this.admin}/api/serve/applications/${encodeURIComponent(app.name)}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify(config),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    if (res.status !== 200) throw new Error(`deploy of ${app.name}: ${res.status} ${await res.text()}`);
    return this.#finished(((await res.json()) as { generation: number }).generation, `deploy of ${app.name}`);
  }

  /** Deploys and fails unless the application is RUNNING. */
  async deployRunning(app: AppConfig): Promise<Status> {
    const errors = await this.deploy(app);
    if (Object.keys(errors).length) throw new Error(`deploy of ${app.name} failed: ${JSON.stringify(errors)}`);
    return await this.until(`${app.name} RUNNING`, (s) => s.applications[app.name]?.status === "RUNNING");
  }

  /** The node of every running replica of `app`/`deployment`, in status order. */
  static nodesOf(s: Status, app: string, deployment: string): string[] {
    return s.applications[app]!.deployments[deployment]!.replicas.map((r) => r.node!);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.all(this.nodes.filter(Boolean).map((n) => n.proc[Symbol.asyncDispose]()));
    await this.nats[Symbol.asyncDispose]();
    keepLogs(this.#spawned, this.nats.log);
  }
}

/**
 * With CLUSTER_TEST_LOGS=<dir>, every node's whole output (the nodes killed on the way too) is
 * and the NATS server's are kept there, one file per process: what a failed run needs to be read.
 */
function keepLogs(procs: Running[], natsLog: string): void {
  const dir = process.env.CLUSTER_TEST_LOGS;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  const at = new Date().toISOString().replace(/[:.]/g, "-");
  writeFileSync(join(dir, `${at}-nats-server.log`), natsLog);
  for (const p of procs) {
    const id = /--node-id (\S+)/.exec(p.proc.spawnargs.join(" "))?.[1] ?? "node";
    writeFileSync(join(dir, `${at}-${id}-${p.proc.pid}.log`), p.output);
  }
}

/** Waits for a node's "HTTP proxy at" line: its port. */
async function nodeUp(id: string, proc: Running): Promise<Node> {
  try {
    const http = (await proc.waitFor(/HTTP proxy at (http:\/\/[\d.]+:\d+)/, NODE_STARTS_WITHIN_MS))[1]!;
    return { id, http, pid: proc.proc.pid!, proc };
  } catch (e) {
    await proc[Symbol.asyncDispose]();
    throw e;
  }
}

export const startCluster = (workers = 2): Promise<Cluster> => Cluster.start(workers);

/** Fetches `url` and parses its JSON, failing with the body when the status is not 200. */
export async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS), ...init });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`${init?.method ?? "GET"} ${url}: ${res.status} ${body}`);
  return JSON.parse(body) as T;
}

/**
 * One cluster of a head and `workers` worker nodes for a test file: started before its first
 * test, stopped (with every process the CLI helpers started) after its last; `set` receives it.
 */
export function clusterForFile(workers: number, set: (cluster: Cluster) => void): void {
  let cluster: Cluster | undefined;
  beforeAll(async () => {
    set((cluster = await startCluster(workers)));
  }, 60_000);
  afterAll(async () => {
    await cluster?.[Symbol.asyncDispose]();
    await cleanup();
  });
}
