// examples/batching.ts: concurrent requests share predict() calls, over handles and HTTP.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startServe, type Served } from "../harness.ts";
import { deployed } from "../fixtures/scope.ts";
import { app, predict } from "../../examples/batching.ts";

let served: Served;
beforeAll(async () => {
  served = await startServe();
});
afterAll(() => served[Symbol.asyncDispose]());

test("the model's cost is a fixed 2 ms per call plus 0.05 ms per input", () => {
  const t0 = performance.now();
  expect(predict([1, 2, 3])).toEqual([2, 4, 6]);
  expect(performance.now() - t0).toBeGreaterThanOrEqual(2.15);
});

test("the batching example answers 64 concurrent calls in a few batches", async () => {
  await using m = await deployed(app, { name: "ex-batching" });
  const xs = Array.from({ length: 64 }, (_, i) => i);
  expect(await Promise.all(xs.map((x) => m.handle.predict.remote(x)))).toEqual(xs.map((x) => x * 2));
  const { batches, items } = await m.handle.stats.remote();
  expect(items).toBe(64);
  expect(batches).toBeLessThanOrEqual(8);
});

// Whether HTTP requests 5 ms apart share a batch depends on the machine; tests/batch/replicas.test.ts asserts batch sizes.
test("the batching example answers over HTTP", async () => {
  await using m = await deployed(app, { name: "ex-batching-http", routePrefix: "/" });
  const bodies = await Promise.all([1, 2, 3, 4].map((x) => fetch(`${served.url}/`, { method: "POST", body: String(x) }).then((r) => r.text())));
  expect(bodies).toEqual(["2", "4", "6", "8"]);
  expect((await m.handle.stats.remote()).items).toBe(4);
});
