// Elysia ingresses over HTTP, against Elysia alone on Bun.serve measured in the same run (and
// against the hello floor): what serving an Elysia app as a deployment costs, one hop and two.
import { elysiaApp, elysiaChainApp, helloElysia } from "../apps/elysia.ts";
import type { Row } from "../report.ts";
import type { BenchCase } from "./index.ts";
import { loadLikeFloors, withServe } from "./serve.ts";

export const elysiaIngress: BenchCase = {
  name: "(c), (d) as Elysia ingresses, HTTP",
  async run(ctx) {
    const alone = Bun.serve({ port: 0, hostname: "127.0.0.1", reusePort: false, fetch: helloElysia().fetch });
    const floor = await loadLikeFloors(ctx, alone.url.href).finally(() => alone.stop(true));
    const one = await withServe(elysiaApp, (url) => loadLikeFloors(ctx, url));
    const two = await withServe(elysiaChainApp, (url) => loadLikeFloors(ctx, url));
    const rows: Row[] = [
      { name: "Elysia alone on Bun.serve, hello", value: floor.rps, unit: "req/s", ratioTo: ctx.floors.hello.rps },
      { name: "tsserve HTTP -> Elysia ingress", value: one.rps, unit: "req/s", ratioTo: floor.rps },
      { name: "tsserve HTTP -> Elysia builder -> down", value: two.rps, unit: "req/s", ratioTo: floor.rps },
    ];
    return rows;
  },
};
