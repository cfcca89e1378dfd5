// `npm run soak [-- --seconds N] [--kill-every N] [--connections N]`: HTTP load on a
// 3-deployment app (an ingress chaining an upstream's response into a downstream, 2 replicas
// each) while one replica is killed every 10 s, taking each deployment in turn. Reports requests sent, succeeded and failed, which
// failures came near a kill, and the main process's RSS (replicas are threads in it) at start
// and end. Targets: failures only among requests in flight on a killed replica; RSS growth
// under 10 %. The load comes from a child process (this file with --client), so its memory
// is not counted. Exit code 1 when a target is missed.
//
// RSS is sampled every 250 ms under load; start and end are the medians of the first and last
// 5 s (before the first kill, after the last replacement). One sample moves by +-15 % with
// the replicas' own garbage collections, which Bun.gc() in the main thread does not reach.
import { serve, type DeploymentHandle } from "tsserve";
import { SoakDown, SoakIngress, SoakUp, soakApp, soakFlags } from "./apps/soak.ts";
import { openSync } from "node:fs";
import { logger } from "../runtime/log/logger.ts";

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!(v > 0)) throw new Error(`${name} must be a number > 0, got ${process.argv[i + 1]}`);
  return v;
};

/** What the client reports. */
interface ClientResult {
  sent: number;
  ok: number;
  failed: Record<string, number>;
  /** [ms since the epoch, kind] of each failure (the first 10,000). */
  failures: [number, string][];
}

// The access log records every request: written as always, but to /dev/null, so the report stays readable.
logger.useFd(openSync("/dev/null", "w"));

if (process.argv.includes("--client")) {
  await client(process.argv[process.argv.indexOf("--client") + 1]!, arg("--seconds", 60), arg("--connections", 32));
  process.exit(0);
}

/** The load: `connections` keep-alive fetch loops for `seconds`, each answer checked and classified. */
async function client(url: string, seconds: number, connections: number): Promise<void> {
  const end = Date.now() + seconds * 1000;
  const r: ClientResult = { sent: 0, ok: 0, failed: {}, failures: [] };
  const fail = (kind: string) => {
    r.failed[kind] = (r.failed[kind] ?? 0) + 1;
    if (r.failures.length < 10_000) r.failures.push([Date.now(), kind]);
  };
  await Promise.all(
    Array.from({ length: connections }, async (_, c) => {
      for (let i = 0; Date.now() < end; i++) {
        const x = c * 10_000_000 + i;
        r.sent++;
        try {
          const res = await fetch(`${url}/?x=${x}`, { signal: AbortSignal.timeout(10_000) });
          const body = await res.text();
          if (res.status === 200 && body === String(2 * x)) r.ok++;
          else if (res.status === 500 && body.includes("died before it answered")) fail("ingress replica died (500)");
          else if (res.status === 502) fail(`downstream ${body.split(":")[0]} (502)`);
          else fail(`${res.status}: ${body.slice(0, 80)}`);
        } catch (err) {
          fail(`client ${(err as Error).name}`);
        }
      }
    }),
  );
  console.log(JSON.stringify(r));
}

const seconds = arg("--seconds", 60);
const killEvery = arg("--kill-every", 10);
const connections = arg("--connections", 32);
const APP = "soak";
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;
const rss = () => {
  Bun.gc(true);
  return process.memoryUsage().rss;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? NaN;

async function runClient(url: string, s: number): Promise<ClientResult> {
  const proc = Bun.spawn([process.execPath, import.meta.path, "--client", url, "--seconds", String(s), "--connections", String(connections)], {
    stdout: "pipe",
    stderr: "inherit",
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), (s + 30) * 1000);
  const out = await new Response(proc.stdout).text();
  clearTimeout(timer);
  if ((await proc.exited) !== 0) throw new Error(`soak client failed (exit ${proc.exitCode})`);
  return JSON.parse(out.trim().split("\n").pop()!) as ClientResult;
}

async function replicas(deployment: string): Promise<string[]> {
  const d = (await serve.status()).applications[APP]?.deployments[deployment];
  return (d?.replicas ?? []).filter((r) => r.state === "RUNNING").map((r) => r.replicaId);
}

interface Kill {
  at: number;
  deployment: string;
  inFlight: number;
  recoveredMs: number;
}

/** Crashes one replica of `deployment`, then waits (bounded) until a replacement runs. */
type Killable = "SoakIngress" | "SoakUp" | "SoakDown";

async function kill(deployment: Killable, slot: number): Promise<Kill> {
  const before = await replicas(deployment);
  const handle = serve.getDeploymentHandle(deployment, APP) as DeploymentHandle<typeof SoakIngress | typeof SoakUp | typeof SoakDown>;
  const at = Date.now();
  const err = await handle.crash.remote(slot).then(() => undefined, (e: Error) => e);
  if (err?.name !== "ReplicaDiedError") throw new Error(`crash of a ${deployment} replica answered ${err ? `${err.name}: ${err.message}` : "a value"}`);
  const deadline = Date.now() + 15_000;
  for (;;) {
    const now = await replicas(deployment);
    if (now.length === before.length && now.some((id) => !before.includes(id))) break;
    if (Date.now() > deadline) throw new Error(`no replacement ${deployment} replica within 15 s`);
    await Bun.sleep(20);
  }
  return { at, deployment, inFlight: Atomics.load(new Int32Array(soakFlags), slot), recoveredMs: Date.now() - at };
}

const { httpUrl } = await serve.start({ http: { host: "127.0.0.1", port: 0 } });
await serve.run(soakApp, { name: APP, routePrefix: "/" });
console.error(`soak: ${SoakIngress.deploymentName} chains ${SoakUp.deploymentName} into ${SoakDown.deploymentName}, 2 replicas each, at ${httpUrl}; ${connections} connections, ${seconds} s, a kill every ${killEvery} s`);
const rssDeployed = rss();
const warm = await runClient(httpUrl, 3);
if (warm.ok === 0) throw new Error(`warm-up got no answer: ${JSON.stringify(warm.failed)}`);
const rssIdle = rss();

const started = Date.now();
const load = runClient(httpUrl, seconds);
const kills: Kill[] = [];
const samples: [number, number][] = [];
const sampler = setInterval(() => samples.push([Date.now() - started, process.memoryUsage().rss]), 250);
for (let n = 1; n * killEvery < seconds; n++) {
  await Bun.sleep(Math.max(0, started + n * killEvery * 1000 - Date.now()));
  const k = await kill((["SoakDown", "SoakIngress", "SoakUp"] as const)[n % 3]!, n % 1024);
  kills.push(k);
  console.error(`soak: t=${((k.at - started) / 1000).toFixed(1)} s killed a ${k.deployment} replica with ${k.inFlight} in flight; replaced in ${k.recoveredMs} ms`);
}
const result = await load;
clearInterval(sampler);
const rssAfter = rss();
const window = Math.min(5000, (seconds * 1000) / 3);
const rssStart = median(samples.filter(([t]) => t < window).map(([, v]) => v));
const rssEnd = median(samples.filter(([t]) => t > seconds * 1000 - window).map(([, v]) => v));

// A failure belongs to a kill when it came within 2 s after it (in flight on, or sent to, the dead replica).
const near = (t: number) => kills.some((k) => t >= k.at - 50 && t <= k.at + 2000);
const stray = result.failures.filter(([t]) => !near(t));
const failedTotal = Object.values(result.failed).reduce((a, b) => a + b, 0);
const inFlightTotal = kills.reduce((a, k) => a + k.inFlight, 0);
const onlyDied = Object.keys(result.failed).every((kind) => kind.includes("died") || kind.includes("ReplicaDiedError"));
const growth = (rssEnd - rssStart) / rssStart;

console.log(`\nsoak: ${seconds} s, ${kills.length} replicas killed (${kills.map((k) => k.deployment).join(", ")})`);
console.log(`requests sent      ${result.sent}`);
console.log(`  succeeded        ${result.ok}  (${((result.ok / ((Date.now() - started) / 1000)) | 0) || 0} /s overall)`);
console.log(`  failed           ${failedTotal}`);
for (const [kind, n] of Object.entries(result.failed)) console.log(`    ${kind.padEnd(40)} ${n}`);
console.log(`  in flight on the killed replicas when they died: ${inFlightTotal} (${kills.map((k) => k.inFlight).join(" + ")})`);
console.log(`  failures more than 2 s from a kill: ${stray.length}${stray.length ? ` (${stray.slice(0, 5).map(([t, kind]) => `t=${((t - started) / 1000).toFixed(1)} s ${kind}`).join(", ")})` : ""}`);
console.log(`replacement time   ${kills.map((k) => `${k.recoveredMs} ms`).join(", ")}`);
console.log(`RSS (main process, replicas included)`);
console.log(`  after deploy     ${mb(rssDeployed)}; after a 3 s warm-up, idle: ${mb(rssIdle)}`);
console.log(`  start            ${mb(rssStart)}  (median, first ${window / 1000} s under load)`);
console.log(`  max              ${mb(Math.max(...samples.map(([, v]) => v)))}`);
console.log(`  end              ${mb(rssEnd)}  (median, last ${window / 1000} s)  ${growth >= 0 ? "+" : ""}${(growth * 100).toFixed(1)} %`);
console.log(`  idle after load  ${mb(rssAfter)}`);

const misses: string[] = [];
if (!onlyDied) misses.push("failures other than a dead replica's");
if (stray.length) misses.push(`${stray.length} failures away from any kill`);
if (growth >= 0.1) misses.push(`RSS grew ${(growth * 100).toFixed(1)} % (target < 10 %)`);
console.log(misses.length ? `\nMISSED: ${misses.join("; ")}` : "\ntargets met: failures only around kills, from dead replicas; RSS growth < 10 %");
await serve.shutdown();
process.exit(misses.length ? 1 : 0);
