// Helpers for tsserve cases: a fresh tsserve around each measurement, shut down afterwards.
import { serve, type Application, type DeploymentHandle } from "tsserve";
import { measureHttp, type HttpLoadResult } from "../load.ts";
import type { BenchContext } from "./index.ts";

/** Starts tsserve on a free port, runs `app` at "/", hands `f` the URL and the ingress handle, shuts down. */
export async function withServe<T>(app: Application, f: (url: string, handle: DeploymentHandle) => Promise<T>): Promise<T> {
  await serve.shutdown();
  const { httpUrl } = await serve.start({ http: { port: 0 } });
  try {
    const handle = await serve.run(app, { name: "bench", routePrefix: "/" });
    return await f(`${httpUrl}/`, handle);
  } finally {
    await serve.shutdown();
  }
}

/** Checks one request answers "hello", then loads `url` exactly as the floors were loaded. */
export async function loadLikeFloors(ctx: BenchContext, url: string): Promise<HttpLoadResult> {
  const res = await fetch(url);
  const body = await res.text();
  if (res.status !== 200 || body !== "hello") throw new Error(`bench app at ${url} answered ${res.status} ${JSON.stringify(body.slice(0, 200))}, expected 200 "hello"`);
  if (ctx.http.warmupS) await measureHttp(url, { connections: ctx.http.connections, durationS: ctx.http.warmupS });
  const r = await measureHttp(url, ctx.http);
  ctx.httpErrors += r.errors;
  return r;
}
