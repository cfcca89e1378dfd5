// Dev aid: CPU microseconds per request (this process: main thread + replica Workers), which
// stays meaningful when other work shares the machine; wall throughput does not. Also split by
// thread (main = "bun", replicas = "Worker", GC = "HeapHelper"): usage `bun bench/dev/http_cpu.ts [c|d]`.
import { serve, type Application } from "tsserve";
import { measureHttp } from "../load.ts";
import { perThread, threadTimes } from "./threads.ts";
import { noopApp, chainApp } from "../apps/noop.ts";

async function cpuPerRequest(url: string): Promise<{ usPerReq: number; rps: number }> {
  await measureHttp(url, { connections: 64, durationS: 1 });
  const before = process.cpuUsage();
  const threadsBefore = threadTimes();
  const r = await measureHttp(url, { connections: 64, durationS: 3 });
  const d = process.cpuUsage(before);
  const total = (r.rps * 3);
  console.log(`  by thread: ${perThread(threadsBefore, threadTimes(), total)}`);
  if (process.env.SPLIT) console.log(`  user ${(d.user / total).toFixed(1)} us/req, system ${(d.system / total).toFixed(1)} us/req`);
  return { usPerReq: (d.user + d.system) / total, rps: r.rps };
}

import { startWorker } from "../floors.ts";
const worker = await startWorker();
let seq = 0;
const waiting = new Map<number, () => void>();
worker.onmessage = (e) => { const w = waiting.get(e.data.id); waiting.delete(e.data.id); w?.(); };
const hop = Bun.serve({ hostname: "127.0.0.1", port: 0, development: false, fetch: () => new Promise<Response>((resolve) => { const id = ++seq; waiting.set(id, () => resolve(new Response("hello"))); worker.postMessage({ id }); }) });
const b = await cpuPerRequest(`http://127.0.0.1:${hop.port}/`);
await hop.stop(true);
worker.terminate();
const hello = Bun.serve({ hostname: "127.0.0.1", port: 0, development: false, fetch: () => new Response("hello") });
const a = await cpuPerRequest(`http://127.0.0.1:${hello.port}/`);
await hello.stop(true);
const { httpUrl } = await serve.start({ http: { port: 0 } });
await serve.run((process.argv[2] === "d" ? chainApp : noopApp) as Application);
const c = await cpuPerRequest(httpUrl + "/");
console.log(`cpu us/req: raw hop=${b.usPerReq.toFixed(1)} hello=${a.usPerReq.toFixed(1)} tsserve=${c.usPerReq.toFixed(1)} (x${(c.usPerReq / a.usPerReq).toFixed(2)}); rps hello ${a.rps.toFixed(0)} hop ${b.rps.toFixed(0)} tsserve ${c.rps.toFixed(0)}`);
await serve.shutdown();
process.exit(0);
