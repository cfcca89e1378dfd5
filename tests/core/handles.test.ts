// DeploymentHandle and DeploymentResponse, driven from the main thread over real replicas.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { ServeError } from "tsserve";
import { eventually, startServe, type Served, rejection } from "../harness.ts";
import { deployed } from "../fixtures/scope.ts";
import { Gate, Greeter, Recorder, WhoAmI } from "../fixtures/calls.ts";

let served: Served;
beforeAll(async () => {
  served = await startServe();
});
afterAll(async () => {
  await served[Symbol.asyncDispose]();
});

test("handle.remote() calls the call method", async () => {
  await using app = await deployed(Greeter.bind(), { name: "h-call" });
  expect(await app.handle.remote("Ada")).toBe("call Ada");
});

test("handle.m.remote() calls method m", async () => {
  await using app = await deployed(Greeter.bind(), { name: "h-method" });
  expect(await app.handle.sayHello.remote("Dora")).toBe("Hello Dora");
});

test("options({ methodName }) makes remote() call that method", async () => {
  await using app = await deployed(Greeter.bind(), { name: "h-methodname" });
  expect(await app.handle.options({ methodName: "sayHello" }).remote("Dora")).toBe("Hello Dora");
});

test("an unknown method rejects with ServeError naming it and listing the available ones", async () => {
  await using app = await deployed(Greeter.bind(), { name: "h-unknown" });
  const err = await rejection((app.handle as any).sayGoodbye.remote("Dora"));
  expect(err).toBeInstanceOf(ServeError);
  expect(err.name).toBe("ServeError");
  expect(err.message).toContain('"sayGoodbye"');
  expect(err.message).toContain("available methods: call, explode, sayHello, scale, slow, wrongType");
});

test("a replica's error keeps its name and message, and its stack holds the replica's frames", async () => {
  await using app = await deployed(Greeter.bind(), { name: "h-error" });
  const err = await rejection(app.handle.explode.remote("too far"));
  expect(err.name).toBe("RangeError");
  expect(err.message).toBe("too far");
  expect(err.stack).toContain("explode");
  expect(err.stack).toContain("fixtures/calls.ts");
});

test("a TypeError thrown in a replica arrives as a TypeError", async () => {
  await using app = await deployed(Greeter.bind(), { name: "h-typeerror" });
  const err = await rejection(app.handle.wrongType.remote());
  expect(err.name).toBe("TypeError");
  expect(err).toBeInstanceOf(TypeError);
  expect(err.message).toContain("null");
});

test("a response can be awaited many times", async () => {
  await using app = await deployed(Greeter.bind(), { name: "h-await-twice" });
  const r = app.handle.sayHello.remote("Ada");
  expect(await r).toBe("Hello Ada");
  expect(await r).toBe("Hello Ada");
  expect(await r.result()).toBe("Hello Ada");
});

test("result({ timeoutMs }) rejects with TimeoutError and the request keeps running", async () => {
  await using app = await deployed(Greeter.bind(), { name: "h-timeout" });
  const r = app.handle.slow.remote(300);
  const err = await rejection(r.result({ timeoutMs: 20 }));
  expect(err.name).toBe("TimeoutError");
  expect(await r.result({ timeoutMs: 5000 })).toBe("slept 300");
});

test("remote() sends eagerly: a call never awaited still runs", async () => {
  await using app = await deployed(Recorder.bind(), { name: "h-eager" });
  app.handle.record.remote("fire-and-forget");
  expect(await eventually(async () => (await app.handle.list.remote()).includes("fire-and-forget"))).toBe(true);
});

test("numReplicas: 2 spreads concurrent calls over both replicas", async () => {
  await using app = await deployed(WhoAmI.bind(), { name: "h-spread" });
  const ids = await Promise.all(Array.from({ length: 10 }, () => app.handle.remote()));
  expect(new Set(ids).size).toBe(2);
});

test("a replica never runs more than maxOngoingRequests calls at once", async () => {
  await using app = await deployed(Gate.bind(), { name: "h-max-ongoing" });
  await Promise.all(Array.from({ length: 10 }, () => app.handle.remote()));
  expect(await app.handle.maxSeen.remote()).toBe(2);
});

test("a handle is not thenable: awaiting it gives the handle back", async () => {
  await using app = await deployed(Greeter.bind(), { name: "h-not-thenable" });
  expect((app.handle as any).then).toBeUndefined();
  expect(await Promise.resolve(app.handle)).toBe(app.handle);
  expect(await app.handle.sayHello.remote("Ada")).toBe("Hello Ada");
});

test("a Float32Array argument and result arrive as Float32Arrays", async () => {
  await using app = await deployed(Greeter.bind(), { name: "h-f32" });
  const input = new Float32Array([1, 2.5, -3]);
  const { arrived, out } = await app.handle.scale.remote(input, 2);
  expect(arrived).toBe("Float32Array");
  expect(out).toBeInstanceOf(Float32Array);
  expect(Array.from(out)).toEqual([2, 5, -6]);
  expect(Array.from(input)).toEqual([1, 2.5, -3]);
});
