import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { serve, type DeploymentHandle } from "tsserve";
import { eventually, startServe, type Served } from "../harness.ts";
import { frontApp, modelsApp, type Models } from "../fixtures/multiplex.ts";
import { app as multiApp } from "../../examples/multiplexed.ts";

let s: Served;
let models: DeploymentHandle<typeof Models>;
beforeAll(async () => {
  s = await startServe();
  models = await serve.run(modelsApp, { name: "models", routePrefix: null });
});
afterAll(() => s[Symbol.asyncDispose]());

const modelsOnReplicas = async (app: string, dep: string) =>
  (await serve.status()).applications[app]!.deployments[dep]!.replicas.map((r) => r.multiplexedModelIds);

describe("multiplexing", () => {
  test("requests for one model stick to one replica once it holds the model", async () => {
    const first = await models.options({ multiplexedModelId: "m1" }).which.remote();
    expect(first.model).toBe("m1");
    expect(first.requestModel).toBe("m1");
    await eventually(async () => (await modelsOnReplicas("models", "Models")).some((ids) => ids.includes("m1")));
    const replicas = new Set<string>();
    for (let i = 0; i < 10; i++) replicas.add((await models.options({ multiplexedModelId: "m1" }).which.remote()).replica);
    expect([...replicas]).toEqual([first.replica]);
  });

  test("a new model goes to the replica with the fewest models", async () => {
    const a = await models.options({ multiplexedModelId: "m2" }).which.remote();
    const b = await models.options({ multiplexedModelId: "m1" }).which.remote();
    expect(a.replica).not.toBe(b.replica);
  });

  test("a saturated replica spills a hot model to another replica", async () => {
    await models.options({ multiplexedModelId: "hot" }).which.remote();
    await eventually(async () => (await modelsOnReplicas("models", "Models")).some((ids) => ids.includes("hot")));
    // maxOngoingRequests is 2 per replica: 4 slow requests need both replicas.
    const got = await Promise.all(Array.from({ length: 4 }, () => models.options({ multiplexedModelId: "hot" }).hold.remote(100)));
    expect(new Set(got.map((g) => g.split(":")[0])).size).toBe(2);
    expect(got.every((g) => g.endsWith(":hot"))).toBe(true);
  });

  test("status shows each replica's model ids, at most maxNumModelsPerReplica", async () => {
    const ids = await modelsOnReplicas("models", "Models");
    expect(ids.length).toBe(2);
    for (const r of ids) expect(r.length).toBeLessThanOrEqual(2);
    // Load counts and load time travel with the status, per replica.
    const replicas = (await serve.status()).applications.models!.deployments.Models!.replicas;
    const loads = replicas.reduce((n, r) => n + (r.modelLoads ?? 0), 0);
    expect(loads).toBeGreaterThanOrEqual(3);
    expect(replicas.every((r) => (r.modelLoadMsTotal ?? -1) >= 0)).toBe(true);
  });

  test("a downstream model id does not change the caller's own; the header sets it over HTTP", async () => {
    await serve.run(frontApp, { name: "front", routePrefix: "/front" });
    const front = serve.getAppHandle("front");
    expect(await front.options({ multiplexedModelId: "outer" }).remote("inner")).toEqual({ before: "outer", after: "outer", down: "inner" });
    const res = await fetch(`${s.url}/front/x`, { headers: { serve_multiplexed_model_id: "from-header" } });
    expect(await res.json()).toEqual({ model: "from-header", path: "/x" });
  });

  test("the seed's MultiModel serves models by header", async () => {
    await serve.run(multiApp, { name: "multi", routePrefix: "/multi" });
    const ask = (model: string) =>
      fetch(`${s.url}/multi`, { method: "POST", body: "[1, 2]", headers: { serve_multiplexed_model_id: model } }).then((r) => r.json() as Promise<{ model: string; replica: string; output: number[] }>);
    const en = await ask("en");
    expect(en.model).toBe("en");
    expect(en.output.length).toBe(2);
    await eventually(async () => (await modelsOnReplicas("multi", "MultiModel")).some((ids) => ids.includes("en")));
    const again = await ask("en");
    expect(again.replica).toBe(en.replica);
  });
});
