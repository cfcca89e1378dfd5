// serve.batch inside real replicas: batches form from concurrent requests through handles and
// over HTTP, streaming batches feed each caller its own elements, errors and cancels reach the
// right callers, and reconfigure changes the batch size at run time.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { serve } from "tsserve";
import { eventually, startServe, type Served, sleep } from "../harness.ts";
import { deployed } from "../fixtures/scope.ts";
import { Batcher } from "../fixtures/batching.ts";

let s: Served;
beforeAll(async () => {
  s = await startServe();
});
afterAll(() => s[Symbol.asyncDispose]());

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe("serve.batch through handles", () => {
  test("concurrent calls form full batches: 8 calls, maxBatchSize 4, two batches of 4", async () => {
    await using app = await deployed(Batcher.bind(), { name: "b-full" });
    expect(await Promise.all(range(8).map((i) => app.handle.double.remote(i)))).toEqual(range(8).map((i) => i * 2));
    expect(await app.handle.batchSizes.remote()).toEqual({ unary: [4, 4], streaming: [] });
  });

  test("a partial batch runs batchWaitTimeoutMs after its first item", async () => {
    await using app = await deployed(Batcher.bind(), { name: "b-partial" });
    const t0 = performance.now();
    expect(await Promise.all([1, 2, 3].map((i) => app.handle.double.remote(i)))).toEqual([2, 4, 6]);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(150);
    expect((await app.handle.batchSizes.remote()).unary).toEqual([3]);
  });

  test("an error fails every caller of its batch, with the error's name and message", async () => {
    await using app = await deployed(Batcher.bind(), { name: "b-error" });
    const results = await Promise.allSettled([1, "boom" as const, 3, 4].map((x) => app.handle.double.remote(x)));
    for (const r of results) {
      expect(r.status).toBe("rejected");
      const err = (r as PromiseRejectedResult).reason as Error;
      expect([err.name, err.message]).toEqual(["RangeError", "boom in a batch of 4"]);
    }
    // The next batch is not affected.
    expect(await Promise.all(range(4).map((i) => app.handle.double.remote(i)))).toEqual([0, 2, 4, 6]);
  });

  test("a cancelled caller leaves its batch before it runs", async () => {
    await using app = await deployed(Batcher.bind(), { name: "b-cancel" });
    const kept = app.handle.double.remote(1);
    const dropped = app.handle.double.remote(2);
    await sleep(50);
    dropped.cancel();
    expect(((await dropped.catch((e: Error) => e)) as Error).name).toBe("RequestCancelledError");
    expect(await kept).toBe(2);
    expect((await app.handle.batchSizes.remote()).unary).toEqual([1]);
  });

  test("reconfigure(userConfig) changes maxBatchSize in the running replica", async () => {
    await using app = await deployed(Batcher.options({ userConfig: { maxBatchSize: 8 } }).bind(), { name: "b-reconf" });
    await Promise.all(range(8).map((i) => app.handle.double.remote(i)));
    expect((await app.handle.batchSizes.remote()).unary).toEqual([8]);
    await serve.run(Batcher.options({ userConfig: { maxBatchSize: 2 } }).bind(), { name: "b-reconf", routePrefix: null });
    await Promise.all(range(4).map((i) => app.handle.double.remote(i)));
    expect((await app.handle.batchSizes.remote()).unary).toEqual([8, 2, 2]);
  });

  test("a streaming batch: options({ stream: true }) gives each caller its own elements, step by step", async () => {
    await using app = await deployed(Batcher.bind(), { name: "b-stream" });
    const stream = app.handle.options({ stream: true });
    const read = async (x: string) => {
      const got: string[] = [];
      for await (const t of stream.tokens.remote(x)) got.push(t);
      return got;
    };
    expect(await Promise.all(["a", "b", "c", "d"].map(read))).toEqual(["a", "b", "c", "d"].map((x) => [`${x}:0`, `${x}:1`, `${x}:2`]));
    expect((await app.handle.batchSizes.remote()).streaming).toEqual([4]);
  });
});

describe("serve.batch over HTTP", () => {
  test("concurrent HTTP requests form batches", async () => {
    await using app = await deployed(Batcher.bind(), { name: "b-http", routePrefix: "/b" });
    const bodies = await Promise.all(range(8).map((i) => fetch(`${s.url}/b/double?x=${i}`).then((r) => r.text())));
    expect(bodies).toEqual(range(8).map((i) => String(i * 2)));
    expect((await app.handle.batchSizes.remote()).unary).toEqual([4, 4]);
  });

  test("a streaming batch streams each HTTP response its own lines", async () => {
    await using app = await deployed(Batcher.bind(), { name: "b-http-stream", routePrefix: "/bs" });
    const responses = await Promise.all(["a", "b", "c", "d"].map((x) => fetch(`${s.url}/bs/tokens?x=${x}`)));
    for (const r of responses) expect(r.headers.get("content-type")).toContain("text/plain");
    const bodies = await Promise.all(responses.map((r) => r.text()));
    expect(bodies).toEqual(["a", "b", "c", "d"].map((x) => `${x}:0\n${x}:1\n${x}:2\n`));
    await eventually(async () => (await app.handle.batchSizes.remote()).streaming.length === 1);
    expect((await app.handle.batchSizes.remote()).streaming).toEqual([4]);
  });
});
