// The floors of bench/runtimes.ts, each measured with this runtime's own primitives and nothing
// of tsserve: (a) a raw listener answering "hello", (b) the same with one postMessage round trip
// to a Worker per request, (r) raw postMessage round trips to a Worker (one at a time, and 256 in
// flight), (s) a raw MessagePort stream from a Worker under credits. Runtime-neutral code only
// (performance.now, setTimeout), so the same file runs on Bun and on Deno.
import { httpLoad, type Load } from "./load.ts";
import { pipelined, sequential } from "./timing.ts";

declare const Deno: any;

const onDeno = "Deno" in globalThis;
const workerUrl = (name: string) => new URL(`../workers/${name}`, import.meta.url).href;

/** A raw listener of this runtime: Deno.serve or Bun.serve, nothing but `answer`. */
function listen(answer: () => Response | Promise<Response>): { url: string; stop(): Promise<void> } {
  if (onDeno) {
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, answer);
    return { url: `http://127.0.0.1:${server.addr.port}/`, stop: () => server.shutdown() };
  }
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, development: false, fetch: answer });
  return { url: `http://127.0.0.1:${server.port}/`, stop: () => server.stop(true) };
}

/** (a) */
export async function rawHello(): Promise<Load> {
  const s = listen(() => new Response("hello"));
  try {
    return await httpLoad(s.url);
  } finally {
    await s.stop();
  }
}

/** An echo Worker and a call that posts one message and resolves with its echo. */
function echoWorker(): { call: () => Promise<unknown>; stop: () => void } {
  const worker = new Worker(workerUrl("echo.ts"), { type: "module" });
  const pending = new Map<number, (v: unknown) => void>();
  let next = 0;
  worker.onmessage = (e: MessageEvent<number>) => {
    pending.get(e.data)?.(e.data);
    pending.delete(e.data);
  };
  return {
    call: () => new Promise((resolve) => (pending.set(++next, resolve), worker.postMessage(next))),
    stop: () => worker.terminate(),
  };
}

/** (b) */
export async function rawWorkerHop(): Promise<Load> {
  const w = echoWorker();
  const s = listen(() => w.call().then(() => new Response("hello")));
  try {
    return await httpLoad(s.url);
  } finally {
    await s.stop();
    w.stop();
  }
}

/** (r): p50 of one round trip at a time (µs), and round trips per second with 256 in flight. */
export async function rawRoundTrips(durationS: number): Promise<{ p50Us: number; perS: number }> {
  const w = echoWorker();
  try {
    const seq = await sequential(w.call, 10_000, 2_000);
    const perS = await pipelined(w.call, 256, durationS);
    return { p50Us: seq.p50Us, perS };
  } finally {
    w.stop();
  }
}

/** (s): 16-byte items per second over a transferred MessagePort, granting 1000 credits at a time (tsserve's stream window). */
export async function rawPortStream(n: number): Promise<number> {
  const worker = new Worker(workerUrl("stream.ts"), { type: "module" });
  const { port1, port2 } = new MessageChannel();
  try {
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      let got = 0;
      port1.onmessage = () => {
        got++;
        if (got === n) return resolve();
        if (got % 1000 === 0) port1.postMessage({ credits: 1000 });
      };
      worker.postMessage({ port: port2, perMessage: 1 }, [port2]);
      port1.postMessage({ credits: 1000 });
    });
    return n / ((performance.now() - t0) / 1000);
  } finally {
    port1.postMessage({ stop: true });
    port1.close();
    worker.terminate();
  }
}
