// (c) tsserve HTTP -> one no-op replica, and (d) HTTP -> ingress -> one downstream (2 hops).
// Load comes from a separate process (wrk), with the connections and duration of floor (a).
import { chainApp, chainAppDefault, noopApp, noopAppDefault } from "../apps/noop.ts";
import type { Row } from "../report.ts";
import type { BenchCase } from "./index.ts";
import { loadLikeFloors, withServe } from "./serve.ts";

export const httpOneHop: BenchCase = {
  name: "(c) tsserve HTTP -> 1 replica",
  async run(ctx) {
    const r = await withServe(noopApp, (url) => loadLikeFloors(ctx, url));
    const rows: Row[] = [
      { name: "(c) tsserve HTTP -> 1 replica", value: r.rps, unit: "req/s", ratioTo: ctx.floors.hello.rps, target: 0.5 },
    ];
    if (r.p50Ms !== undefined) rows.push({ name: "(c)   p50 latency (64 conns)", value: r.p50Ms * 1000, unit: "us", ratioTo: (ctx.floors.hello.p50Ms ?? 0) * 1000 || undefined });
    return rows;
  },
};

export const httpTwoHops: BenchCase = {
  name: "(d) tsserve HTTP -> ingress -> downstream",
  async run(ctx) {
    const r = await withServe(chainApp, (url) => loadLikeFloors(ctx, url));
    return [{ name: "(d) tsserve HTTP -> ingress -> down", value: r.rps, unit: "req/s", ratioTo: ctx.floors.hello.rps, target: 0.35 }];
  },
};

/** (c) and (d) again with the default maxOngoingRequests (5): how much the caller-side queue costs. */
export const httpDefaultLimits: BenchCase = {
  name: "(c'), (d') default maxOngoingRequests",
  async run(ctx) {
    const c = await withServe(noopAppDefault, (url) => loadLikeFloors(ctx, url));
    const d = await withServe(chainAppDefault, (url) => loadLikeFloors(ctx, url));
    return [
      { name: "(c') as (c), maxOngoingRequests 5", value: c.rps, unit: "req/s", ratioTo: ctx.floors.hello.rps },
      { name: "(d') as (d), maxOngoingRequests 5", value: d.rps, unit: "req/s", ratioTo: ctx.floors.hello.rps },
    ];
  },
};
