// The seeds' chain, chained (the adder's response passed on unawaited: its value goes replica
// to replica) against awaited (the ingress awaits it and passes the value), in one run: over
// HTTP (wrk, as the floors) and over handles (256 calls in flight), target chained/awaited >= 1.
// Both apps run side by side and are measured in turns (awaited, chained, then chained,
// awaited...), so a burst of load from elsewhere on the machine falls on both; the ratios are
// of the totals over all turns. CPU per handle call (every thread of this process) is given
// too: unlike throughput, it stays meaningful when other work shares the machine. Then the same
// over handles with a large value (1,000 numbers) between the two, where chaining saves a copy.
import { serve, type DeploymentHandle } from "tsserve";
import { awaitedApp, chainedApp, vectorAwaitedApp, vectorChainedApp } from "../apps/chain.ts";
import { measureHttp } from "../load.ts";
import { sequential } from "./handle.ts";
import type { BenchCase, BenchContext } from "./index.ts";

interface Totals {
  requests: number;
  httpS: number;
  calls: number;
  callsS: number;
  cpuUs: number;
}

/** `inFlight` loops, each awaiting one call then making the next, for `seconds`: calls made, and the process's CPU meanwhile. */
async function handleTurn(handle: DeploymentHandle, inFlight: number, seconds: number): Promise<{ calls: number; s: number; cpuUs: number }> {
  let calls = 0;
  let stop = false;
  const loop = async () => {
    while (!stop) {
      await handle.remote();
      calls++;
    }
  };
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  const loops = Array.from({ length: inFlight }, loop);
  await Bun.sleep(seconds * 1000);
  stop = true;
  await Promise.all(loops);
  const used = process.cpuUsage(cpu);
  return { calls, s: (performance.now() - t0) / 1000, cpuUs: used.user + used.system };
}

async function turn(ctx: BenchContext, url: string, handle: DeploymentHandle, totals: Totals, httpS: number, handleS: number): Promise<void> {
  const r = await measureHttp(url, { ...ctx.http, durationS: httpS });
  ctx.httpErrors += r.errors;
  totals.requests += r.rps * httpS;
  totals.httpS += httpS;
  const h = await handleTurn(handle, 256, handleS);
  totals.calls += h.calls;
  totals.callsS += h.s;
  totals.cpuUs += h.cpuUs;
}

export const chaining: BenchCase = {
  name: "chained vs awaited",
  async run(ctx) {
    await serve.shutdown();
    const { httpUrl } = await serve.start({ http: { port: 0 } });
    try {
      const apps = [
        { name: "awaited", app: awaitedApp },
        { name: "chained", app: chainedApp },
      ] as const;
      const runs = [];
      for (const { name, app } of apps) {
        const handle = await serve.run(app, { name, routePrefix: `/${name}` });
        const url = `${httpUrl}/${name}?x=5`;
        const res = await fetch(url);
        const body = await res.text();
        if (res.status !== 200 || body !== "12") throw new Error(`chain app ${name} answered ${res.status} ${JSON.stringify(body.slice(0, 200))}, expected 200 "12"`);
        runs.push({ url, handle, totals: { requests: 0, httpS: 0, calls: 0, callsS: 0, cpuUs: 0 } as Totals });
      }
      // Warm-up: the JIT, routers and replicas of both see load before the clock starts.
      if (ctx.http.warmupS) for (const r of runs) await measureHttp(r.url, { connections: ctx.http.connections, durationS: ctx.http.warmupS });
      for (const r of runs) await handleTurn(r.handle, 256, 0.5);
      const turns = ctx.quick ? 2 : 4;
      const httpS = Math.max(1, Math.round(ctx.http.durationS / 2));
      const handleS = ctx.quick ? 0.5 : 1;
      for (let i = 0; i < turns; i++) {
        for (const r of i % 2 === 0 ? runs : [...runs].reverse()) await turn(ctx, r.url, r.handle, r.totals, httpS, handleS);
      }
      const [awaited, chained] = runs.map((r) => r.totals) as [Totals, Totals];
      // One call at a time: chaining's answer takes three hops (caller, upstream, downstream, caller), awaiting's four.
      const p50s: number[] = [];
      for (const r of runs) p50s.push((await sequential(r.handle, ctx.quick ? 1_000 : 3_000, 200)).p50Us);
      const [awaitedP50, chainedP50] = p50s as [number, number];
      const vectors = [];
      for (const [name, app] of [["vectors-awaited", vectorAwaitedApp], ["vectors-chained", vectorChainedApp]] as const) {
        const handle = await serve.run(app, { name, routePrefix: `/${name}` });
        const answer = await handle.remote();
        if (answer !== 1000) throw new Error(`vector chain app ${name} answered ${answer}, expected 1000`);
        await handleTurn(handle, 64, 0.5);
        vectors.push({ handle, totals: { requests: 0, httpS: 0, calls: 0, callsS: 0, cpuUs: 0 } as Totals });
      }
      for (let i = 0; i < turns; i++) {
        for (const v of i % 2 === 0 ? vectors : [...vectors].reverse()) {
          const h = await handleTurn(v.handle, 64, handleS);
          v.totals.calls += h.calls;
          v.totals.callsS += h.s;
          v.totals.cpuUs += h.cpuUs;
        }
      }
      const [vAwaited, vChained] = vectors.map((v) => v.totals) as [Totals, Totals];
      const rps = (t: Totals) => t.requests / t.httpS;
      const perS = (t: Totals) => t.calls / t.callsS;
      const cpu = (t: Totals) => t.cpuUs / t.calls;
      return [
        { name: "chain, awaited: HTTP", value: rps(awaited), unit: "req/s", ratioTo: ctx.floors.hello.rps },
        { name: "chain, chained: HTTP", value: rps(chained), unit: "req/s", ratioTo: ctx.floors.hello.rps },
        { name: "chain: chained/awaited, HTTP", value: rps(chained), unit: "req/s", ratioTo: rps(awaited), target: 1 },
        { name: "chain, awaited: handles, 256 in flight", value: perS(awaited), unit: "calls/s" },
        { name: "chain: chained/awaited, handles", value: perS(chained), unit: "calls/s", ratioTo: perS(awaited), target: 1 },
        { name: "chain, awaited: CPU per handle call", value: cpu(awaited), unit: "us" },
        { name: "chain: chained/awaited, CPU per call", value: cpu(chained), unit: "us", ratioTo: cpu(awaited), target: 1, lowerIsBetter: true },
        { name: "chain, awaited: handle call p50", value: awaitedP50, unit: "us" },
        { name: "chain: chained/awaited, p50", value: chainedP50, unit: "us", ratioTo: awaitedP50, target: 1, lowerIsBetter: true },
        { name: "chain, 1,000 numbers, awaited: handles", value: perS(vAwaited), unit: "calls/s" },
        { name: "chain, 1,000 numbers: chained/awaited", value: perS(vChained), unit: "calls/s", ratioTo: perS(vAwaited), target: 1 },
        { name: "chain, 1,000 numbers: chained/awaited, CPU", value: cpu(vChained), unit: "us", ratioTo: cpu(vAwaited), target: 1, lowerIsBetter: true },
      ];
    } finally {
      await serve.shutdown();
    }
  },
};
