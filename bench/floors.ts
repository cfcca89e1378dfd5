// In-process floors: what Bun itself does with no tsserve code in the way (in production mode,
// `development: false`, as tsserve listens).
// Each function starts and stops everything it creates (server.stop(true), worker.terminate()).
import { measureHttp, runBounded, type HttpLoadResult } from "./load.ts";

export interface HttpFloorOptions {
  connections: number;
  durationS: number;
  /** A short unmeasured load first, so the JIT and the connection pool are warm. 0 to skip. */
  warmupS?: number;
}

const ECHO = new URL("./workers/echo.ts", import.meta.url);
const STREAM = new URL("./workers/stream.ts", import.meta.url);

/** Starts a Worker and resolves once it has answered one message (so it is fully up). */
export function startWorker(url: URL = ECHO): Promise<Worker> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(url);
    const timer = setTimeout(() => fail(new Error(`worker ${url.pathname} did not answer within 10 s`)), 10_000);
    const fail = (err: unknown) => {
      clearTimeout(timer);
      worker.terminate();
      reject(err instanceof Error ? err : new Error(String((err as ErrorEvent).message ?? err)));
    };
    worker.addEventListener("error", fail, { once: true });
    worker.addEventListener(
      "message",
      () => {
        clearTimeout(timer);
        worker.removeEventListener("error", fail);
        resolve(worker);
      },
      { once: true },
    );
    worker.postMessage({ id: -1 });
  });
}

async function loadServer(server: ReturnType<typeof Bun.serve>, opts: HttpFloorOptions): Promise<HttpLoadResult> {
  try {
    const url = `http://127.0.0.1:${server.port}/`;
    if (opts.warmupS) await measureHttp(url, { connections: opts.connections, durationS: opts.warmupS });
    return await measureHttp(url, opts);
  } finally {
    await server.stop(true);
  }
}

/** (a) Raw Bun.serve hello world. */
export function measureHelloFloor(opts: HttpFloorOptions): Promise<HttpLoadResult> {
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", development: false, fetch: () => new Response("hello") });
  return loadServer(server, opts);
}

/** (b) Raw Bun.serve whose fetch makes one postMessage round trip to a Worker, correlated by id. */
export async function measureWorkerHopFloor(opts: HttpFloorOptions): Promise<HttpLoadResult> {
  const worker = await startWorker();
  const pending = new Map<number, (r: Response) => void>();
  let nextId = 0;
  worker.onmessage = (e: MessageEvent<{ id: number }>) => {
    const resolve = pending.get(e.data.id);
    if (!resolve) return;
    pending.delete(e.data.id);
    resolve(new Response("hello"));
  };
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    development: false,
    fetch: () =>
      new Promise<Response>((resolve) => {
        const id = nextId++;
        pending.set(id, resolve);
        worker.postMessage({ id });
      }),
  });
  try {
    return await loadServer(server, opts);
  } finally {
    worker.terminate();
  }
}

export interface LatencyResult {
  p50Us: number;
  p99Us: number;
  meanUs: number;
}

/** Raw postMessage round trips one at a time (each awaited), after a warm-up. */
export async function measureRoundTripLatency(opts: { count?: number; warmup?: number } = {}): Promise<LatencyResult> {
  const count = opts.count ?? 20_000;
  const warmup = opts.warmup ?? 2_000;
  const worker = await startWorker();
  let waiting: (() => void) | undefined;
  worker.onmessage = () => waiting?.();
  const once = (id: number) =>
    new Promise<void>((resolve) => {
      waiting = resolve;
      worker.postMessage({ id });
    });
  try {
    for (let i = 0; i < warmup; i++) await once(i);
    const us = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      const t0 = Bun.nanoseconds();
      await once(i);
      us[i] = (Bun.nanoseconds() - t0) / 1000;
    }
    const mean = us.reduce((a, b) => a + b, 0) / count;
    us.sort();
    return { p50Us: us[Math.floor(count * 0.5)], p99Us: us[Math.floor(count * 0.99)], meanUs: mean };
  } finally {
    worker.terminate();
  }
}

/** Raw postMessage round trips with `inFlight` outstanding at all times; round trips per second. */
export async function measureRoundTripPipelined(opts: { inFlight?: number; durationS?: number } = {}): Promise<{ perS: number }> {
  const inFlight = opts.inFlight ?? 256;
  const durationS = opts.durationS ?? 2;
  const worker = await startWorker();
  try {
    return await new Promise((resolve) => {
      let done = 0;
      let stop = false;
      const t0 = Bun.nanoseconds();
      worker.onmessage = (e: MessageEvent<{ id: number }>) => {
        done++;
        if (!stop) worker.postMessage({ id: e.data.id });
      };
      setTimeout(() => {
        stop = true;
        resolve({ perS: done / ((Bun.nanoseconds() - t0) / 1e9) });
      }, durationS * 1000);
      for (let i = 0; i < inFlight; i++) worker.postMessage({ id: i });
    });
  } finally {
    worker.terminate();
  }
}

/** Milliseconds from `new Worker` to its first answer (median of `count` fresh workers). */
export async function measureWorkerSpawn(opts: { count?: number } = {}): Promise<{ p50Ms: number; firstMs: number }> {
  const ms: number[] = [];
  for (let i = 0; i < (opts.count ?? 5); i++) {
    const t0 = Bun.nanoseconds();
    const w = await startWorker();
    ms.push((Bun.nanoseconds() - t0) / 1e6);
    w.terminate();
  }
  const firstMs = ms[0];
  ms.sort((a, b) => a - b);
  return { p50Ms: ms[Math.floor(ms.length / 2)], firstMs };
}

// ---- Streaming floors (for the later streaming issue) ----

/** A Worker posts 16-byte string items to main over a MessagePort as fast as a credit window allows.
 *  `window` counts messages; main grants window/2 more each time it has taken window/2.
 *  `perMessage` items are batched into one message (an array) when > 1. Returns items per second. */
export async function measurePortStream(
  opts: { durationS?: number; window?: number; perMessage?: number } = {},
): Promise<{ itemsPerS: number }> {
  const durationS = opts.durationS ?? 2;
  const window = Math.max(2, opts.window ?? 64);
  const perMessage = Math.max(1, opts.perMessage ?? 1);
  const half = Math.floor(window / 2);
  const worker = new Worker(STREAM);
  const { port1, port2 } = new MessageChannel();
  try {
    return await new Promise((resolve, reject) => {
      worker.addEventListener("error", (e) => reject(new Error(`stream worker: ${e.message}`)));
      let messages = 0;
      let sinceGrant = 0;
      let t0 = 0;
      port1.onmessage = () => {
        if (messages++ === 0) t0 = Bun.nanoseconds();
        if (++sinceGrant === half) {
          sinceGrant = 0;
          port1.postMessage({ credits: half });
        }
      };
      worker.postMessage({ port: port2, perMessage }, [port2]);
      port1.postMessage({ credits: window });
      setTimeout(() => {
        const s = t0 ? (Bun.nanoseconds() - t0) / 1e9 : 0;
        port1.postMessage({ stop: true });
        if (!s) reject(new Error("stream worker sent nothing"));
        else resolve({ itemsPerS: ((messages - 1) * perMessage) / s });
      }, durationS * 1000);
    });
  } finally {
    port1.close();
    worker.terminate();
  }
}

/** Bun.serve streams a ReadableStream made on the main thread, `chunkBytes`-byte chunks, one per pull,
 *  for durationS; a client (own process by default, or a fetch in this process) reads it to the end.
 *  Returns chunks per second as bytes received / chunkBytes over the client's reading time. */
export async function measureHttpStream(
  opts: { durationS?: number; chunkBytes?: number; client?: "process" | "inprocess" } = {},
): Promise<{ chunksPerS: number; clientReads: number }> {
  const durationS = opts.durationS ?? 2;
  const chunkBytes = opts.chunkBytes ?? 16;
  const chunk = new Uint8Array(chunkBytes).fill(0x61);
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    development: false,
    fetch(req, srv) {
      srv.timeout(req, 0);
      const end = Bun.nanoseconds() + durationS * 1e9;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          controller.enqueue(chunk.slice());
          if (Bun.nanoseconds() >= end) controller.close();
        },
      });
      return new Response(body, { headers: { "content-type": "application/octet-stream" } });
    },
  });
  const url = `http://127.0.0.1:${server.port}/`;
  try {
    const r = opts.client === "inprocess" ? await readInProcess(url) : await readInChild(url, durationS);
    return { chunksPerS: r.bytes / chunkBytes / r.seconds, clientReads: r.reads };
  } finally {
    await server.stop(true);
  }
}

interface StreamRead {
  bytes: number;
  reads: number;
  seconds: number;
}

async function readInChild(url: string, durationS: number): Promise<StreamRead> {
  const script = new URL("./streamclient.ts", import.meta.url).pathname;
  const r = await runBounded([process.execPath, script, url], (durationS + 15) * 1000);
  if (r.code !== 0 || r.timedOut) throw new Error(`stream client failed (exit ${r.code}):\n${r.stderr}`);
  return JSON.parse(r.stdout.trim()) as StreamRead;
}

async function readInProcess(url: string): Promise<StreamRead> {
  const res = await fetch(url, { signal: AbortSignal.timeout(60_000) });
  if (!res.body) throw new Error(`no body (status ${res.status})`);
  const t0 = Bun.nanoseconds();
  let bytes = 0;
  let reads = 0;
  for await (const c of res.body) {
    bytes += c.byteLength;
    reads++;
  }
  return { bytes, reads, seconds: (Bun.nanoseconds() - t0) / 1e9 };
}
