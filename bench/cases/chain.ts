// The seeds' chain, chained (the adder's response passed on unawaited: its value goes replica
// to replica) against awaited (the ingress awaits it and passes the value), in one run: over
// HTTP (wrk, as the floors) and over handles (256 calls in flight). Target chained/awaited >= 1.
import type { Application } from "tsserve";
import { awaitedApp, chainedApp } from "../apps/chain.ts";
import { measureHttp } from "../load.ts";
import type { Row } from "../report.ts";
import { pipelined } from "./handle.ts";
import type { BenchCase, BenchContext } from "./index.ts";
import { withServe } from "./serve.ts";

async function measure(ctx: BenchContext, app: Application): Promise<{ rps: number; callsPerS: number }> {
  return withServe(app, async (url, handle) => {
    const res = await fetch(`${url}?x=5`);
    const body = await res.text();
    if (res.status !== 200 || body !== "12") throw new Error(`chain app answered ${res.status} ${JSON.stringify(body.slice(0, 200))}, expected 200 "12"`);
    if (ctx.http.warmupS) await measureHttp(`${url}?x=5`, { connections: ctx.http.connections, durationS: ctx.http.warmupS });
    const r = await measureHttp(`${url}?x=5`, ctx.http);
    ctx.httpErrors += r.errors;
    const callsPerS = await pipelined(handle, 256, ctx.quick ? 1 : 2);
    return { rps: r.rps, callsPerS };
  });
}

export const chaining: BenchCase = {
  name: "chained vs awaited",
  async run(ctx) {
    const awaited = await measure(ctx, awaitedApp);
    const chained = await measure(ctx, chainedApp);
    return [
      { name: "chain, awaited: HTTP", value: awaited.rps, unit: "req/s", ratioTo: ctx.floors.hello.rps },
      { name: "chain, chained: HTTP", value: chained.rps, unit: "req/s", ratioTo: ctx.floors.hello.rps },
      { name: "chain: chained/awaited, HTTP", value: chained.rps, unit: "req/s", ratioTo: awaited.rps, target: 1 },
      { name: "chain, awaited: handles, 256 in flight", value: awaited.callsPerS, unit: "calls/s" },
      { name: "chain: chained/awaited, handles", value: chained.callsPerS, unit: "calls/s", ratioTo: awaited.callsPerS, target: 1 },
    ];
  },
};
