// Chaining: a DeploymentResponse passed as an argument of another remote() call.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { serve, ServeError } from "tsserve";
import { startServe, type Served, rejection } from "../harness.ts";
import { deployed } from "../fixtures/scope.ts";
import { type Adder, type AsyncFailer, blockingApp, directAnswerApp, type Failer, fanOutApp, hubApp, type Multiplier } from "../fixtures/chaining.ts";

let served: Served;
beforeAll(async () => {
  served = await startServe();
});
afterAll(async () => {
  await served[Symbol.asyncDispose]();
});

/** Deploys the Hub app and returns main-thread handles to its parts. */
async function hub(name: string) {
  const app = await deployed(hubApp, { name });
  return {
    app,
    adder: serve.getDeploymentHandle<typeof Adder>("Adder", name),
    multiplier: serve.getDeploymentHandle<typeof Multiplier>("Multiplier", name),
    failer: serve.getDeploymentHandle<typeof Failer>("Failer", name),
    asyncFailer: serve.getDeploymentHandle<typeof AsyncFailer>("AsyncFailer", name),
  };
}

test("a response passed as a top-level argument is resolved first: (5 + 1) * 2 = 12", async () => {
  const { app, adder, multiplier } = await hub("c-top-level");
  await using _ = app;
  expect(await multiplier.remote(adder.remote(5))).toBe(12);
});

test("a replica can chain responses too", async () => {
  const { app } = await hub("c-in-replica");
  await using _ = app;
  expect(await app.handle.remote(5)).toBe(12);
});

test("one response can feed several calls", async () => {
  const { app, adder, multiplier } = await hub("c-fan-out");
  await using _ = app;
  const sum = adder.remote(5);
  expect(await Promise.all([multiplier.remote(sum), multiplier.remote(sum), adder.remote(sum)])).toEqual([12, 12, 7]);
  expect(await sum).toBe(6);
});

test("inside a replica, one response can feed several calls and still be awaited", async () => {
  await using app = await deployed(fanOutApp, { name: "c-fan-out-replica" });
  expect(await app.handle.remote(5)).toEqual([18, 18, 7, 6]);
});

test("an upstream error rejects every dependent call with the upstream error", async () => {
  const { app, failer, multiplier, adder } = await hub("c-upstream-error");
  await using _ = app;
  const bad = failer.remote(5);
  const errors = await Promise.all([rejection(multiplier.remote(bad)), rejection(adder.remote(bad))]);
  for (const err of errors) {
    expect(err.name).toBe("RangeError");
    expect(err.message).toBe("cannot take 5");
  }
});

test("an upstream error that comes later also rejects every dependent call with it", async () => {
  const { app, asyncFailer, multiplier, adder } = await hub("c-upstream-error-later");
  await using _ = app;
  const bad = asyncFailer.remote(5);
  const errors = await Promise.all([rejection(multiplier.remote(bad)), rejection(adder.remote(bad)), rejection(bad)]);
  for (const err of errors) {
    expect(err.name).toBe("RangeError");
    expect(err.message).toBe("cannot take 5 later");
  }
});

test("a response nested in an array argument throws ServeError saying top-level", async () => {
  const { app, adder, multiplier } = await hub("c-nested");
  await using _ = app;
  const sum = adder.remote(1);
  let err: Error | undefined;
  try {
    multiplier.remote([sum] as any);
  } catch (e) {
    err = e as Error;
  }
  expect(err).toBeInstanceOf(ServeError);
  expect(err!.message).toContain("top-level");
  await sum;
});

test("SharedArrayBuffer constructor arguments stay shared with the replica", async () => {
  const flag = new SharedArrayBuffer(4);
  await using app = await deployed(blockingApp("async", flag), { name: "c-sab" });
  const r = await app.handle.remote(5, 2000);
  expect(r.isShared).toBe(true);
  // The Multiplier set the flag in the memory this thread holds.
  expect(new Int32Array(flag)[0]).toBe(1);
});

/**
 * Runs a blocking-ingress call again while it ends "not-equal" (the multiplier ran before the
 * ingress even blocked: a thread descheduled on a loaded machine), at most 5 times: that
 * outcome proves nothing either way, while "timed-out" fails at once.
 */
async function untilBlocked<T extends { waited: string }>(call: () => PromiseLike<T>): Promise<T> {
  let r = await call();
  for (let i = 1; i < 5 && r.waited === "not-equal"; i++) r = await call();
  return r;
}

test("the value goes from the upstream replica to the downstream one, not through a blocked caller (async upstream)", async () => {
  await using app = await deployed(blockingApp("async", new SharedArrayBuffer(4)), { name: "c-direct-async" });
  expect(await untilBlocked(() => app.handle.remote(5, 1000))).toEqual({ waited: "ok", value: 12, isShared: true });
});

test("the value goes from the upstream replica to the downstream one, not through a blocked caller (sync upstream)", async () => {
  await using app = await deployed(blockingApp("sync", new SharedArrayBuffer(4)), { name: "c-direct-sync" });
  expect(await untilBlocked(() => app.handle.remote(5, 1000))).toEqual({ waited: "ok", value: 12, isShared: true });
});

test("the downstream replica answers the caller directly, not through the upstream replica (stalled once its value left)", async () => {
  await using app = await deployed(directAnswerApp(new SharedArrayBuffer(4)), { name: "c-direct-answer" });
  // "ok": the adder was stalled when the answer came ("not-equal": it came before the adder even
  // stalled); through the adder it would have come only after the stall "timed-out".
  const { value, adderWait } = await app.handle.remote(5, 3000);
  expect(value).toBe(12);
  expect(["ok", "not-equal"]).toContain(adderWait as string);
});
