// `bun bench/run.ts [--quick] [--no-stream] [--no-extra] [--only <text>]`: measures the floors, then every
// tsserve case in bench/cases/index.ts, and prints one table. Ratios are only meaningful
// within one run. See bench/README.md.
import { cases, extraCases, type BenchContext, type Floors } from "./cases/index.ts";
import {
  measureHelloFloor,
  measureHttpStream,
  measurePortStream,
  measureRoundTripLatency,
  measureRoundTripPipelined,
  measureWorkerHopFloor,
  measureWorkerSpawn,
} from "./floors.ts";
import { ensureWrk } from "./load.ts";
import { allPass, printTable, type Row } from "./report.ts";
import { openSync } from "node:fs";
import { logger } from "../runtime/log/logger.ts";

// tsserve logs every request (the access log is on by default): the lines are formatted and
// written as always, but to /dev/null, so a terminal's speed is not measured and the table stays readable.
logger.useFd(openSync("/dev/null", "w"));

const quick = process.argv.includes("--quick");
const streams = !process.argv.includes("--no-stream");
const extra = !quick && !process.argv.includes("--no-extra");
/** `--only chain`: run only the cases whose name holds this text (the floors always run). */
const only = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1] : undefined;
const http = { connections: 64, durationS: quick ? 2 : 4, warmupS: quick ? 0 : 1 };
const shortS = quick ? 1 : 2;

const step = async <T>(label: string, f: () => Promise<T>): Promise<T> => {
  const t0 = performance.now();
  const r = await f();
  console.error(`bench: ${label} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  return r;
};

const started = performance.now();
const wrk = await ensureWrk();
console.error(`bench: load generator ${wrk ?? "bun bench/loadgen.ts"}, ${http.connections} connections, ${http.durationS} s${quick ? " (quick)" : ""}`);

const hello = await step("(a) hello", () => measureHelloFloor(http));
const workerHop = await step("(b) worker hop", () => measureWorkerHopFloor(http));
const roundTrip = await step("round trip latency", () => measureRoundTripLatency({ count: quick ? 5_000 : 20_000 }));
const pipelined = await step("round trip pipelined", () => measureRoundTripPipelined({ inFlight: 256, durationS: shortS }));
const spawn = await step("worker spawn", () => measureWorkerSpawn({ count: 5 }));
const floors: Floors = { hello, workerHop, roundTrip, pipelined };

const rows: Row[] = [
  { name: "(a) Bun.serve hello", value: hello.rps, unit: "req/s", ratioTo: hello.rps },
  { name: "(b) Bun.serve + worker hop", value: workerHop.rps, unit: "req/s", ratioTo: hello.rps },
  { name: "raw round trip p50", value: roundTrip.p50Us, unit: "us" },
  { name: "raw round trip p99", value: roundTrip.p99Us, unit: "us" },
  { name: "raw round trips, 256 in flight", value: pipelined.perS, unit: "/s" },
  { name: "worker spawn p50 (first)", value: spawn.p50Ms, unit: `ms (${spawn.firstMs.toFixed(1)})` },
];

let streamFloors: BenchContext["streamFloors"];
if (streams) {
  const port1 = await step("port stream w64", () => measurePortStream({ durationS: shortS, window: 64 }));
  const port64 = await step("port stream w64 x64", () => measurePortStream({ durationS: shortS, window: 64, perMessage: 64 }));
  const httpStream = await step("http stream", () => measureHttpStream({ durationS: shortS }));
  rows.push(
    { name: "stream: port, window 64, 1/msg", value: port1.itemsPerS, unit: "items/s" },
    { name: "stream: port, window 64, 64/msg", value: port64.itemsPerS, unit: "items/s", ratioTo: port1.itemsPerS },
    { name: "stream: Bun.serve main-thread 16 B", value: httpStream.chunksPerS, unit: "chunks/s" },
  );
  streamFloors = { port: port64.itemsPerS, http: httpStream.chunksPerS };
}

// tsserve cases (c), (d), (e), and the informational ones: see bench/cases/index.ts.
const ctx: BenchContext = { quick, http, floors, httpErrors: 0, streamFloors };
for (const c of (extra ? [...cases, ...extraCases] : cases).filter((c) => !only || c.name.includes(only))) rows.push(...(await step(c.name, () => c.run(ctx))));

// (a) once more, after the cases: other work on a shared machine comes and goes within a run,
// so HTTP ratios are taken to the mean of both (a) runs, and the spread between them is shown.
const helloAgain = await step("(a) hello again", () => measureHelloFloor(http));
const helloMean = (hello.rps + helloAgain.rps) / 2;
for (const r of rows) if (r.ratioTo === hello.rps) r.ratioTo = helloMean;
rows.splice(1, 0, { name: "(a) again, after the cases", value: helloAgain.rps, unit: "req/s", ratioTo: helloMean });
const drift = Math.abs(hello.rps - helloAgain.rps) / helloMean;

const errors = hello.errors + workerHop.errors + helloAgain.errors + ctx.httpErrors;
console.log();
printTable(rows);
console.log(`\nratios to (a) use the mean of its two runs (they differ by ${(drift * 100).toFixed(0)}%${drift > 0.15 ? ": the machine was busy, compare with care" : ""})`);
console.log(`load: ${hello.tool}; HTTP errors ${errors}; total ${((performance.now() - started) / 1000).toFixed(1)} s`);
process.exit(allPass(rows) && errors === 0 ? 0 : 1);
