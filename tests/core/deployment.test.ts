// Defining deployments: function and decorator forms, bind/options, validation, the graph.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Application, serve } from "tsserve";
import { startServe, type Served } from "../harness.ts";
import { deployed } from "../fixtures/scope.ts";
import { Counter, double, Echo, Model, Nested, Pair, Renamed, TwoModels } from "../fixtures/graph.ts";
import { DecoratedDeployment, PlainDeployment } from "../fixtures/decorated.ts";

let served: Served;
beforeAll(async () => {
  served = await startServe();
});
afterAll(async () => {
  await served[Symbol.asyncDispose]();
});

describe("defining", () => {
  test("the function form returns a Deployment named after the class, with its options", () => {
    expect(Echo.deploymentName).toBe("Echo");
    expect(Echo.deploymentOptions).toEqual({ maxOngoingRequests: 3 });
    expect(typeof Echo).toBe("function");
  });

  test("bind() returns an Application, which has no remote()", () => {
    const app = Echo.bind();
    expect(app).toBeInstanceOf(Application);
    expect((app as any).remote).toBeUndefined();
  });

  test("a function deployment serves handle.remote()", async () => {
    await using app = await deployed(double.bind(), { name: "fn-deployment" });
    expect(await app.handle.remote(21)).toBe(42);
  });

  test("the TC39 class decorator form makes a Deployment that runs", async () => {
    expect(DecoratedDeployment.deploymentName).toBe("Decorated");
    expect(DecoratedDeployment.deploymentOptions).toEqual({ maxOngoingRequests: 7 });
    await using app = await deployed(DecoratedDeployment.bind(), { name: "decorated" });
    expect(await app.handle.remote("Ada")).toBe("decorated Ada");
  });

  test("the decorator form without options uses the class name and no options", async () => {
    expect(PlainDeployment.deploymentName).toBe("Plain");
    expect(PlainDeployment.deploymentOptions).toEqual({});
    await using app = await deployed(PlainDeployment.bind(), { name: "decorated-plain" });
    expect(await app.handle.remote()).toBe("plain");
  });

  test("calling a Deployment directly throws", () => {
    expect(() => (Echo as any)()).toThrow(/Echo is a deployment.*bind/);
  });

  test("new on a Deployment throws", () => {
    expect(() => new (Echo as any)()).toThrow(/Echo is a deployment/);
  });

  test("an anonymous class without a name option throws", () => {
    expect(() => serve.deployment(class {})).toThrow(/no name.*name: /);
  });

  test("an anonymous function with a name option is accepted", () => {
    const d = serve.deployment((x: number) => x, { name: "Identity" });
    expect(d.deploymentName).toBe("Identity");
  });
});

describe("options", () => {
  test("options() returns a new deployment with the options overridden, leaving the original alone", () => {
    const more = Echo.options({ numReplicas: 2 });
    expect(more.deploymentOptions).toEqual({ maxOngoingRequests: 3, numReplicas: 2 });
    expect(more.deploymentName).toBe("Echo");
    expect(Echo.deploymentOptions).toEqual({ maxOngoingRequests: 3 });
  });

  test("numReplicas 0 throws naming the option and its allowed values", () => {
    expect(() => serve.deployment(class A {}, { numReplicas: 0 })).toThrow('numReplicas must be an integer >= 1 or "auto", got 0');
  });

  test("maxOngoingRequests -1 throws naming the option and its allowed values", () => {
    expect(() => serve.deployment(class A {}, { maxOngoingRequests: -1 })).toThrow("maxOngoingRequests must be an integer >= 1, got -1");
  });

  test("maxQueuedRequests 0 throws naming -1 as the no-limit value", () => {
    expect(() => serve.deployment(class A {}, { maxQueuedRequests: 0 })).toThrow("maxQueuedRequests must be an integer >= 1, or -1 for no limit, got 0");
  });

  test("an unknown option throws naming it and the known ones", () => {
    expect(() => serve.deployment(class A {}, { replicas: 2 } as any)).toThrow(/unknown deployment option "replicas"; known options: .*numReplicas/);
  });

  test("an integer numReplicas together with autoscalingConfig throws", () => {
    expect(() => serve.deployment(class A {}, { numReplicas: 2, autoscalingConfig: { maxReplicas: 3 } })).toThrow(/numReplicas.*autoscalingConfig/);
  });

  test("options() validates too", () => {
    expect(() => Echo.options({ numReplicas: 1.5 })).toThrow('numReplicas must be an integer >= 1 or "auto", got 1.5');
  });

  test("a validation error is a TypeError", () => {
    let err: unknown;
    try {
      serve.deployment(class A {}, { numReplicas: 0 });
    } catch (e) {
      err = e;
    }
    expect((err as Error).name).toBe("TypeError");
  });
});

describe("constructor arguments", () => {
  test("a function argument throws at bind(), naming the argument", () => {
    expect(() => (Echo as any).bind(() => 1)).toThrow(/Echo\.bind\(\): argument 0 is a function/);
  });

  test("a function nested in a plain object throws, naming its path", () => {
    expect(() => Model.bind({ weights: [1, 2], act: Math.max } as any)).toThrow(/argument 0\.act is a function/);
  });

  test("a non-clonable object throws, naming the argument", () => {
    expect(() => (Model as any).bind(1, new WeakMap())).toThrow(/argument 1 \(WeakMap\) cannot be sent to a replica/);
  });

  test("Applications nested in plain objects and arrays become handles", async () => {
    const app = Nested.bind({
      label: "nested",
      models: { low: Model.bind(1), high: Model.bind(2) },
      list: [Model.bind(3), Model.bind(4)],
    });
    await using d = await deployed(app, { name: "nested" });
    expect(await d.handle.remote()).toEqual({ label: "nested", low: 1, high: 2, list: [3, 4] });
  });

  test("one Application bound twice is one shared deployment", async () => {
    const shared = Counter.bind();
    await using d = await deployed(Pair.bind(shared, shared), { name: "shared" });
    expect(await d.handle.remote()).toEqual([1, 2]);
    const status = await serve.status();
    expect(Object.keys(status.applications.shared!.deployments).sort()).toEqual(["Counter", "Pair"]);
  });

  test("two binds of one deployment are two deployments, Model and Model_1", async () => {
    await using d = await deployed(TwoModels.bind(Model.bind(10), Model.bind(20)), { name: "two-models" });
    expect(await d.handle.remote()).toEqual([10, 20]);
    expect(await d.handle.names.remote()).toEqual(["Model", "Model_1"]);
    const status = await serve.status();
    expect(Object.keys(status.applications["two-models"]!.deployments).sort()).toEqual(["Model", "Model_1", "TwoModels"]);
  });

  test("D.options({ name }) deploys under the new name and still finds its class", async () => {
    await using d = await deployed(Renamed.bind(), { name: "renamed" });
    expect(await d.handle.remote("hi")).toBe("hi");
    expect((await d.handle.replica.remote()).deploymentName).toBe("Renamed");
    const status = await serve.status();
    expect(Object.keys(status.applications.renamed!.deployments)).toEqual(["Renamed"]);
  });
});
