// Elysia ingresses for bench/cases/elysia.ts: the same "hello" as bench/apps/noop.ts, answered by
// an Elysia route (a Response without content-type, which the replica labels as Bun would), and
// by a builder's app calling a downstream deployment through its handle.
import { Elysia } from "elysia";
import { serve, type DeploymentHandle } from "tsserve";
import { BENCH_MAX_ONGOING, Downstream } from "./noop.ts";

/** The plain Elysia app: also served alone on Bun.serve, as this case's floor. */
export const helloElysia = () => new Elysia().get("/", () => "hello");

export const ElysiaHello = serve.deployment(serve.ingress(helloElysia()), { name: "ElysiaHello", maxOngoingRequests: BENCH_MAX_ONGOING });

export const ElysiaChain = serve.deployment(
  serve.ingress((down: DeploymentHandle<typeof Downstream>) => new Elysia().get("/", async () => await down.remote())),
  { name: "ElysiaChain", maxOngoingRequests: BENCH_MAX_ONGOING },
);

export const elysiaApp = ElysiaHello.bind();
export const elysiaChainApp = ElysiaChain.bind(Downstream.bind());
