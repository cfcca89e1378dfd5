// Dev aid: CPU microseconds per call of the seeds' chain through its ingress, chained against
// awaited (this process, all threads), split by thread: over handles (256 in flight), and with
// `http` over HTTP too (wrk, 64 connections). CPU per call stays meaningful when other work
// shares the machine; wall throughput does not. Usage: `bun bench/dev/chain_cpu.ts [http] [rounds]`.
import { serve, type Application } from "tsserve";
import { awaitedApp, chainedApp } from "../apps/chain.ts";
import { pipelined } from "../cases/handle.ts";
import { measureHttp } from "../load.ts";
import { perThread, threadTimes } from "./threads.ts";

const http = process.argv.includes("http");
const rounds = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 2);

async function measure(label: string, app: Application): Promise<void> {
  const { httpUrl } = await serve.start({ http: { port: 0 } });
  const h = await serve.run(app, { routePrefix: "/" });
  await pipelined(h, 256, 1);
  let before = process.cpuUsage();
  let threadsBefore = threadTimes();
  const t0 = performance.now();
  const perS = await pipelined(h, 256, 3);
  let d = process.cpuUsage(before);
  const calls = (perS * (performance.now() - t0)) / 1000;
  console.log(`${label}: ${(perS / 1000).toFixed(1)}k calls/s, ${((d.user + d.system) / calls).toFixed(1)} us CPU per call; by thread: ${perThread(threadsBefore, threadTimes(), calls)}`);
  if (http) {
    const url = `${httpUrl}/?x=5`;
    await measureHttp(url, { connections: 64, durationS: 1 });
    before = process.cpuUsage();
    threadsBefore = threadTimes();
    const r = await measureHttp(url, { connections: 64, durationS: 3 });
    d = process.cpuUsage(before);
    const requests = r.rps * 3;
    console.log(`${label} HTTP: ${(r.rps / 1000).toFixed(1)}k req/s, ${((d.user + d.system) / requests).toFixed(1)} us CPU per request; by thread: ${perThread(threadsBefore, threadTimes(), requests)}`);
  }
  await serve.shutdown();
}

for (let round = 0; round < rounds; round++) {
  await measure("awaited", awaitedApp);
  await measure("chained", chainedApp);
}
process.exit(0);
