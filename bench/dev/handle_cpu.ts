// Dev aid: CPU microseconds per handle call, 256 in flight (this process, all threads).
import { serve } from "tsserve";
import { noopApp } from "../apps/noop.ts";
import { pipelined, sequential } from "../cases/handle.ts";
await serve.start({ http: { port: 0 } });
const h = await serve.run(noopApp, { routePrefix: null });
const seq = await sequential(h, 5000, 1000);
const before = process.cpuUsage();
const t0 = performance.now();
const perS = await pipelined(h, 256, 2);
const d = process.cpuUsage(before);
const secs = (performance.now() - t0) / 1000;
console.log(`seq p50 ${seq.p50Us.toFixed(1)} us; pipelined ${(perS / 1000).toFixed(0)}k/s; cpu us/call ~${((d.user + d.system) / (perS * secs)).toFixed(2)}`);
await serve.shutdown();
process.exit(0);
