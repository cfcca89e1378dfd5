// Issue 15: a cluster of two nodes on this machine (this process as the head, one worker node as a
// process of its own) on a nats-server of its own:
//   handle calls to a replica on the other node (256 in flight), ratio to raw NATS request/reply
//   between two processes with messages of the same size, target 0.5;
//   HTTP through the head's proxy to a replica on the worker node, ratio to the worker's own
//   proxy serving the same replica (the local case);
//   a stream from a replica on the other node (items/s).
import { spawn } from "node:child_process";
import { serve, type Application, type DeploymentHandle } from "tsserve";
import { noopApp, NoOp } from "../apps/noop.ts";
import { itemsApp } from "../apps/stream.ts";
import { measureHttp } from "../load.ts";
import type { Row } from "../report.ts";
import { natsFloor } from "../cluster/floor.ts";
import { pipelined } from "./handle.ts";
import type { BenchCase, BenchContext } from "./index.ts";
import { startNats } from "../../tests/cluster/nats_server.ts";
import { mainRuntime } from "../../runtime/main.ts";
import { clusterOptions, startHead } from "../../runtime/cluster/index.ts";

/** About the size of one small handle call as it crosses between nodes (a call message in a batch of one). */
const CALL_BYTES = 96;
const root = new URL("../..", import.meta.url).pathname;

/** A worker node process; resolves with its proxy's URL once it listens. */
function startWorker(natsUrl: string, clusterName: string): Promise<{ url: string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [`${root}cmd/tsserve.ts`, "start", "--cluster", natsUrl, "--cluster-name", clusterName, "--node-id", "bench-worker", "--port", "0"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, TSSERVE_METRICS: process.env.TSSERVE_METRICS ?? "1" },
  });
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await exited;
  };
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`the worker node did not start within 20 s:\n${out}`)), 20_000);
    child.stdout!.on("data", (b: Buffer) => {
      out += b.toString();
      const m = /HTTP proxy at \S*(http:\/\/[^\s\x1b]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1]!, stop });
      }
    });
    child.stderr!.on("data", (b: Buffer) => (out += b.toString()));
  });
}

/** Deploys `app` as "bench" and checks its replicas run on `node`. */
async function deployOn(app: Application, node: string): Promise<DeploymentHandle> {
  const handle = await serve.run(app, { name: "bench", routePrefix: "/" });
  const status = await serve.status();
  const where = Object.values(status.applications.bench!.deployments).flatMap((d) => d.replicas.map((r) => r.node));
  if (!where.every((n) => n === node)) throw new Error(`cluster bench: the bench app's replicas run on ${where.join(", ")}, expected ${node}`);
  return handle;
}

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  const end = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`cluster bench: ${what} within 20 s`);
    await Bun.sleep(50);
  }
}

export const cluster: BenchCase = {
  name: "cluster on NATS",
  async run(ctx: BenchContext): Promise<Row[]> {
    await using nats = await startNats();
    const seconds = ctx.quick ? 1 : 2;
    const floor = await natsFloor(nats.url, { inFlight: 256, bytes: CALL_BYTES, durationMs: seconds * 1000 });
    await serve.shutdown();
    const { httpUrl } = await serve.start({ http: { port: 0 } });
    const name = `bench${process.pid}`;
    const head = await startHead(clusterOptions({ url: nats.url, head: true, nodeId: "bench-head", name }), mainRuntime(), httpUrl);
    let worker: Awaited<ReturnType<typeof startWorker>> | undefined;
    try {
      // A replica the head keeps, deployed before the worker joins: every app after it goes to the
      // worker node, which then holds fewer replicas.
      await serve.run(NoOp.options({ name: "Ballast" }).bind(), { name: "ballast", routePrefix: "/ballast" });
      worker = await startWorker(nats.url, name);
      await waitFor(async () => (await serve.status()).nodes?.["bench-worker"]?.status === "ALIVE", "the worker node joined");

      const handle = await deployOn(noopApp, "bench-worker");
      const callsPerS = await pipelined(handle, 256, seconds);
      const remoteUrl = `${httpUrl}/`;
      const localUrl = `${worker.url}/`;
      await waitFor(async () => (await fetch(localUrl)).status === 200, "the worker's proxy serves the bench app");
      if (ctx.http.warmupS) await measureHttp(remoteUrl, { connections: ctx.http.connections, durationS: ctx.http.warmupS });
      const remote = await measureHttp(remoteUrl, ctx.http);
      const local = await measureHttp(localUrl, ctx.http);
      ctx.httpErrors += remote.errors + local.errors;
      await serve.delete("bench");

      const items = await deployOn(itemsApp, "bench-worker");
      const n = ctx.quick ? 200_000 : 500_000;
      const s = items.options({ stream: true });
      for await (const _ of s.remote(10_000)); // warm-up
      const t0 = Bun.nanoseconds();
      let count = 0;
      for await (const _ of s.remote(n)) count++;
      if (count !== n) throw new Error(`cluster bench: expected ${n} items, got ${count}`);
      const itemsPerS = n / ((Bun.nanoseconds() - t0) / 1e9);
      return [
        { name: "cluster: raw NATS request/reply, 256 in flight (floor)", value: floor.perSecond, unit: "req/s" },
        { name: "cluster: handle calls to the other node, 256 in flight", value: callsPerS, unit: "calls/s", ratioTo: floor.perSecond, target: 0.5 },
        { name: "cluster: HTTP, replica on the worker, via the worker's proxy (local)", value: local.rps, unit: "req/s", ratioTo: ctx.floors.hello.rps },
        { name: "cluster: HTTP, replica on the worker, via the head's proxy", value: remote.rps, unit: "req/s", ratioTo: local.rps },
        { name: "cluster: stream from the other node", value: itemsPerS, unit: "items/s" },
      ];
    } finally {
      await serve.shutdown();
      await head.close();
      await worker?.stop();
    }
  },
};
