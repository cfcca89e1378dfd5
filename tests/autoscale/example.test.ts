// examples/autoscaling.ts: idle at zero replicas, and the first request starts one.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { serve } from "tsserve";
import { startServe, type Served } from "../harness.ts";
import { deployed } from "../fixtures/scope.ts";
import { app } from "../../examples/autoscaling.ts";

let served: Served;
beforeAll(async () => {
  served = await startServe();
});
afterAll(() => served[Symbol.asyncDispose]());

test("the autoscaling example idles at zero replicas and answers its first request from zero over HTTP", async () => {
  await using _ = await deployed(app, { name: "ex-autoscaling", routePrefix: "/" });
  const model = async () => (await serve.status()).applications["ex-autoscaling"]!.deployments.Model!;
  expect(await model()).toMatchObject({ targetReplicas: 0, currentReplicas: 0 });
  const t0 = performance.now();
  const res = await fetch(`${served.url}/`);
  expect(res.status).toBe(200);
  expect(await res.text()).toStartWith("ex-autoscaling#Model#");
  expect(performance.now() - t0).toBeLessThan(1000);
  expect(await model()).toMatchObject({ targetReplicas: 1, currentReplicas: 1 });
});
