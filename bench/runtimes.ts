// Bun and Deno side by side: `npm run bench:runtimes` runs this file under each runtime
// (`bun bench/runtimes.ts`, `deno run -A bench/runtimes.ts`; `deno task bench` is the Deno half).
// Each run measures its runtime's own floors, (a) a raw listener answering "hello" and (b) the
// same with one postMessage round trip to a Worker, then tsserve's (c) HTTP hello through a
// replica, and prints (c) as a ratio to the same run's floors. The load comes from one client for
// both runtimes (bench/loadgen.ts under Bun, its own process), so only the server changes.
import { spawn } from "node:child_process";
import { serve } from "tsserve";
import { noopApp } from "./apps/noop.ts";

declare const Deno: any;

const onDeno = "Deno" in globalThis;
const runtime = onDeno ? `Deno ${Deno.version.deno}` : `Bun ${Bun.version}`;
const root = new URL("..", import.meta.url).pathname;
const durationS = Number(process.env.BENCH_SECONDS ?? 3);
const connections = 64;

interface Load {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

function load(url: string): Promise<Load> {
  return new Promise((resolve, reject) => {
    const child = spawn(`${root}node_modules/.bin/bun`, [`${root}bench/loadgen.ts`, JSON.stringify({ url, connections, durationS })], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out) as Load) : reject(new Error(`loadgen exited ${code}: ${out}`))));
  });
}

/** A raw listener of this runtime: no tsserve, nothing but `answer`. */
function listen(answer: () => Response | Promise<Response>): { url: string; stop(): Promise<void> } {
  if (onDeno) {
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, answer);
    return { url: `http://127.0.0.1:${server.addr.port}/`, stop: () => server.shutdown() };
  }
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, development: false, fetch: answer });
  return { url: `http://127.0.0.1:${server.port}/`, stop: () => server.stop(true) };
}

async function floorHello(): Promise<Load> {
  const s = listen(() => new Response("hello"));
  try {
    return await load(s.url);
  } finally {
    await s.stop();
  }
}

async function floorWorkerHop(): Promise<Load> {
  const worker = new Worker(new URL("./workers/echo.ts", import.meta.url).href, { type: "module" });
  const pending = new Map<number, (r: Response) => void>();
  let next = 0;
  worker.onmessage = (e: MessageEvent<number>) => {
    pending.get(e.data)?.(new Response("hello"));
    pending.delete(e.data);
  };
  const s = listen(() => new Promise<Response>((resolve) => (pending.set(++next, resolve), worker.postMessage(next))));
  try {
    return await load(s.url);
  } finally {
    await s.stop();
    worker.terminate();
  }
}

async function tsserveHello(): Promise<Load> {
  const { httpUrl } = await serve.start({ http: { host: "127.0.0.1", port: 0 } });
  await serve.run(noopApp, { name: "bench", routePrefix: "/" });
  try {
    return await load(`${httpUrl}/`);
  } finally {
    await serve.shutdown();
  }
}

const hello = await floorHello();
const hop = await floorWorkerHop();
const ts = await tsserveHello();
const row = (name: string, r: Load) =>
  `| ${runtime} | ${name} | ${Math.round(r.rps)} | ${(r.rps / hello.rps).toFixed(2)} | ${(r.rps / hop.rps).toFixed(2)} | ${r.p50Ms?.toFixed(2)} | ${r.p99Ms?.toFixed(2)} | ${r.errors} |`;
console.log(`| runtime | case | req/s | / (a) | / (b) | p50 ms | p99 ms | errors |`);
console.log(`|---|---|---|---|---|---|---|---|`);
console.log(row("(a) raw listener, hello", hello));
console.log(row("(b) raw listener + Worker hop", hop));
console.log(row("(c) tsserve HTTP hello (1 replica)", ts));
process.exit(0);
