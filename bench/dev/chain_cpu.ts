// Dev aid: CPU microseconds per call of the seeds' chain through its ingress, chained against
// awaited, 256 in flight (this process, all threads), split by thread. CPU per call stays
// meaningful when other work shares the machine; wall throughput does not.
import { serve, type Application } from "tsserve";
import { awaitedApp, chainedApp } from "../apps/chain.ts";
import { pipelined } from "../cases/handle.ts";
import { perThread, threadTimes } from "./threads.ts";

async function measure(label: string, app: Application): Promise<void> {
  await serve.start({ http: { port: 0 } });
  const h = await serve.run(app, { routePrefix: null });
  await pipelined(h, 256, 1);
  const before = process.cpuUsage();
  const threadsBefore = threadTimes();
  const t0 = performance.now();
  const perS = await pipelined(h, 256, 3);
  const d = process.cpuUsage(before);
  const calls = (perS * (performance.now() - t0)) / 1000;
  console.log(`${label}: ${(perS / 1000).toFixed(1)}k calls/s, ${((d.user + d.system) / calls).toFixed(1)} us CPU per call; by thread: ${perThread(threadsBefore, threadTimes(), calls)}`);
  await serve.shutdown();
}

for (let round = 0; round < 2; round++) {
  await measure("awaited", awaitedApp);
  await measure("chained", chainedApp);
}
process.exit(0);
