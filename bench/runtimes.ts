// Bun and Deno side by side. Each run measures its own runtime's floors (bench/runtimes/floors.ts)
// and tsserve's cases (bench/runtimes/cases.ts), and prints every case as a ratio to a floor of
// the same run:
//   deno run -A bench/runtimes.ts      (deno task bench): Deno's table
//   bun bench/runtimes.ts              Bun's table
//   bun bench/runtimes.ts --both       (npm run bench:runtimes): Bun's run, then Deno's in a child
//                                      process, and one table with both
// --json prints the rows as JSON instead (what --both reads from the Deno child).
import { spawn } from "node:child_process";
import { openSync } from "node:fs";
import { logger } from "../runtime/log/logger.ts";
import { chaining, handleCalls, handleStream, httpHello, httpIngressDownstream } from "./runtimes/cases.ts";
import { rawHello, rawPortStream, rawRoundTrips, rawWorkerHop } from "./runtimes/floors.ts";
import { LOAD } from "./runtimes/load.ts";

declare const Deno: any;

interface Row {
  name: string;
  value: number;
  unit: string;
  /** The floor it is divided by, and its name; none for a floor itself. */
  ratio?: number;
  of?: string;
}

// The access log is on by default: its lines are made as always, but written to /dev/null (as bench/run.ts does).
logger.useFd(openSync("/dev/null", "w"));

const onDeno = "Deno" in globalThis;
const runtime = onDeno ? `Deno ${Deno.version.deno}` : `Bun ${Bun.version}`;
const quick = process.argv.includes("--quick");
const seconds = quick ? 1 : 2;

async function measure(): Promise<Row[]> {
  const a = await rawHello();
  const b = await rawWorkerHop();
  const r = await rawRoundTrips(seconds);
  const s = await rawPortStream(quick ? 200_000 : 1_000_000);
  const c = await httpHello();
  const d = await httpIngressDownstream();
  const e = await handleCalls(seconds);
  const f = await handleStream(quick ? 200_000 : 1_000_000);
  const g = await chaining(seconds);
  const rows: Row[] = [
    { name: "(a) raw listener, hello", value: a.rps, unit: "req/s" },
    { name: "(b) raw listener + Worker hop", value: b.rps, unit: "req/s" },
    { name: "(r) raw Worker round trip, p50", value: r.p50Us, unit: "us" },
    { name: "(r) raw Worker round trips, 256 in flight", value: r.perS, unit: "msg/s" },
    { name: "(s) raw MessagePort stream", value: s, unit: "items/s" },
    { name: "(c) HTTP -> 1 replica", value: c.rps, unit: "req/s", ratio: c.rps / b.rps, of: "(b)" },
    { name: "(d) HTTP -> ingress -> downstream", value: d.rps, unit: "req/s", ratio: d.rps / b.rps, of: "(b)" },
    { name: "(e) handle call, p50", value: e.p50Us, unit: "us", ratio: e.p50Us / r.p50Us, of: "(r) p50" },
    { name: "(e) handle calls, 256 in flight", value: e.perS, unit: "calls/s", ratio: e.perS / r.perS, of: "(r) 256" },
    { name: "(f) handle stream, replica -> main", value: f, unit: "items/s", ratio: f / s, of: "(s)" },
    { name: "(g) chain, awaited, 256 in flight", value: g.awaited, unit: "calls/s", ratio: g.awaited / r.perS, of: "(r) 256" },
    { name: "(g) chain, chained, 256 in flight", value: g.chained, unit: "calls/s", ratio: g.chained / r.perS, of: "(r) 256" },
  ];
  if (a.errors + b.errors + c.errors + d.errors > 0) console.error(`[bench] ${runtime}: HTTP errors: ${a.errors + b.errors + c.errors + d.errors}`);
  return rows;
}

const num = (v: number) => (v >= 100 ? Math.round(v).toLocaleString("en-US") : v.toFixed(1));
const ratio = (r: Row | undefined) => (r?.ratio === undefined ? "floor" : `${r.ratio.toFixed(2)}x ${r.of}`);

function table(rows: Row[]): string {
  const lines = [`| ${runtime} | value | ratio |`, "|---|---|---|"];
  for (const r of rows) lines.push(`| ${r.name} | ${num(r.value)} ${r.unit} | ${ratio(r)} |`);
  return lines.join("\n");
}

function sideBySide(bun: Row[], deno: Row[], denoName: string): string {
  const lines = [`| case | ${runtime} | ratio | ${denoName} | ratio | Deno/Bun |`, "|---|---|---|---|---|---|"];
  for (const r of bun) {
    const d = deno.find((x) => x.name === r.name);
    const vs = d ? (r.unit === "us" ? r.value / d.value : d.value / r.value).toFixed(2) : "-";
    lines.push(`| ${r.name} | ${num(r.value)} ${r.unit} | ${ratio(r)} | ${d ? `${num(d.value)} ${d.unit}` : "-"} | ${ratio(d)} | ${vs} |`);
  }
  return lines.join("\n");
}

/** Deno's rows, from `deno run -A bench/runtimes.ts --json` (the Deno that npm install brings). */
function denoRows(): Promise<{ runtime: string; rows: Row[] }> {
  const root = new URL("..", import.meta.url).pathname;
  const args = ["run", "-A", `${root}bench/runtimes.ts`, "--json", ...(quick ? ["--quick"] : [])];
  return new Promise((resolve, reject) => {
    const child = spawn(`${root}node_modules/deno/deno`, args, { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out.trim().split("\n").at(-1)!)) : reject(new Error(`the Deno run exited ${code}`))));
  });
}

const rows = await measure();
if (process.argv.includes("--json")) {
  console.log(JSON.stringify({ runtime, rows }));
} else if (process.argv.includes("--both") && !onDeno) {
  const deno = await denoRows();
  console.log(`${new Date().toISOString().slice(0, 10)}, ${LOAD.connections} HTTP connections for ${LOAD.durationS} s per case (bench/loadgen.ts under Bun for both); "us" rows: lower is better, and Deno/Bun is Bun's time over Deno's\n`);
  console.log(sideBySide(rows, deno.rows, deno.runtime));
} else {
  console.log(table(rows));
}
process.exit(0);
