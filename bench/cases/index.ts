// The tsserve cases. Each measures tsserve itself and returns report rows compared with the
// floors of the same run. To add one: write bench/cases/<name>.ts exporting a BenchCase,
// import it below, add it to `cases`. Deployments they run live in bench/apps/.
// Issue 2, "Benchmark":
//   (c) tsserve HTTP -> one no-op replica:            rps,  ratioTo floors.hello.rps, target 0.5
//   (d) tsserve HTTP -> ingress -> one downstream:    rps,  ratioTo floors.hello.rps, target 0.35
//   (e) handle calls from the main thread:
//       sequential p50 us, ratioTo floors.roundTrip.p50Us, target 1.5, lowerIsBetter
//       256 in flight calls/s, ratioTo floors.pipelined.perS, targetValue 300_000
// Issue 11: the seeds' chain, chained/awaited >= 1 over HTTP and handles (chain.ts)
// Issue 16: websocket echo round trips (1 socket) and one-way messages/s, ratio to raw Bun.serve websockets, target 0.5
// Issue 13, "Observability": (c) with metrics and access log on / off >= 0.9; a scrape of 32 replicas < 1 s.
// Issue 15: a head (this process) and a worker node on NATS: handle calls across nodes / raw NATS
// request-reply >= 0.5; HTTP via a proxy whose replica is on the other node / via its own node's; a stream across nodes.
import type { HttpLoadResult } from "../load.ts";
import type { LatencyResult } from "../floors.ts";
import type { Row } from "../report.ts";
import { handleCalls } from "./handle.ts";
import { streaming } from "./stream.ts";
import { httpDefaultLimits, httpOneHop, httpTwoHops } from "./http.ts";
import { autoscaling } from "./autoscale.ts";
import { batching } from "./batch.ts";
import { multiplexing } from "./multiplex.ts";
import { chaining } from "./chain.ts";
import { elysiaIngress } from "./elysia.ts";
import { websockets } from "./websocket.ts";
import { observability } from "./observe.ts";
import { cluster } from "./cluster.ts";

/** Floors measured earlier in the same run; compare against these, never against other runs. */
export interface Floors {
  hello: HttpLoadResult;
  workerHop: HttpLoadResult;
  roundTrip: LatencyResult;
  pipelined: { perS: number };
}

export interface BenchContext {
  quick: boolean;
  /** Use for every HTTP measurement so cases and floors load the same way. */
  http: { connections: number; durationS: number; warmupS: number };
  floors: Floors;
  /** The raw stream floors of this run (items/s over a MessagePort, 64 per message; chunks/s from Bun.serve), when measured. */
  streamFloors?: { port: number; http: number };
  /** Cases add the socket and status errors of their HTTP loads here (the run fails on any). */
  httpErrors: number;
}

export interface BenchCase {
  name: string;
  run(ctx: BenchContext): Promise<Row[]>;
}

export const cases: BenchCase[] = [httpOneHop, httpTwoHops, chaining, handleCalls, streaming, multiplexing, batching, autoscaling, websockets, observability, cluster];

/** Informational cases, run unless `--quick` or `--no-extra`. */
export const extraCases: BenchCase[] = [httpDefaultLimits, elysiaIngress];
