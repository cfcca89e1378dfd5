// tsserve's cases in bench/runtimes.ts, on whichever runtime runs it: HTTP through a replica, HTTP
// through an ingress and its downstream, handle calls, a handle stream, and chaining (a pending
// response passed on unawaited, against awaiting it first). The apps are the main bench's.
import { serve, type Application, type DeploymentHandle } from "tsserve";
import { awaitedApp, chainedApp } from "../apps/chain.ts";
import { chainApp, noopApp } from "../apps/noop.ts";
import { itemsApp } from "../apps/stream.ts";
import { httpLoad, type Load } from "./load.ts";
import { pipelined, sequential } from "./timing.ts";

/** A fresh tsserve on a free port with `app` at "/", shut down after `f`. */
async function withServe<T>(app: Application, f: (url: string, handle: DeploymentHandle) => Promise<T>): Promise<T> {
  await serve.shutdown();
  const { httpUrl } = await serve.start({ http: { host: "127.0.0.1", port: 0 } });
  try {
    const handle = await serve.run(app, { name: "bench", routePrefix: "/" });
    return await f(`${httpUrl}/`, handle);
  } finally {
    await serve.shutdown();
  }
}

/** HTTP load on `app`, after one request checked that it answers `expected`. */
function http(app: Application, expected: string): Promise<Load> {
  return withServe(app, async (url) => {
    const body = await (await fetch(url)).text();
    if (body !== expected) throw new Error(`bench app answered ${JSON.stringify(body.slice(0, 100))}, expected ${JSON.stringify(expected)}`);
    return await httpLoad(url);
  });
}

/** (c) one no-op replica; (d) an ingress awaiting its downstream. */
export const httpHello = () => http(noopApp, "hello");
export const httpIngressDownstream = () => http(chainApp, "hello");

/** (e) handle calls to a no-op replica: p50 one at a time (µs), and calls per second with 256 in flight. */
export function handleCalls(durationS: number): Promise<{ p50Us: number; perS: number }> {
  return withServe(noopApp, async (_url, handle) => {
    const seq = await sequential(() => handle.remote(), 10_000, 2_000);
    return { p50Us: seq.p50Us, perS: await pipelined(() => handle.remote(), 256, durationS) };
  });
}

/** (f) items per second through a handle stream, replica to main thread. */
export function handleStream(n: number): Promise<number> {
  return withServe(itemsApp, async (_url, handle) => {
    const s = handle.options({ stream: true });
    for await (const _ of s.remote(10_000)); // warm-up
    const t0 = performance.now();
    let count = 0;
    for await (const _ of s.remote(n)) count++;
    if (count !== n) throw new Error(`stream: expected ${n} items, got ${count}`);
    return n / ((performance.now() - t0) / 1000);
  });
}

/** (g) the chain ingress -> adder -> multiplier over handles, 256 calls in flight: the adder's response chained (unawaited) or awaited first. */
export function chaining(durationS: number): Promise<{ chained: number; awaited: number }> {
  const run = (app: Application) =>
    withServe(app, async (_url, handle) => {
      if ((await handle.remote()) !== 12) throw new Error("chain: (5 + 1) * 2 should be 12");
      return await pipelined(() => handle.remote(), 256, durationS);
    });
  return run(awaitedApp).then(async (awaited) => ({ awaited, chained: await run(chainedApp) }));
}
