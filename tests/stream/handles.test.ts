import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { serve, type DeploymentHandle } from "tsserve";
import { eventually, startServe, type Served, sleep } from "../harness.ts";
import { producerApp, relayApp, type Producer, type Relay } from "../fixtures/streaming.ts";
import { app as streamExample } from "../../examples/stream.ts";

let s: Served;
let producer: DeploymentHandle<typeof Producer, true>;
let unary: DeploymentHandle<typeof Producer>;

beforeAll(async () => {
  s = await startServe();
  unary = await serve.run(producerApp, { name: "p", routePrefix: null });
  producer = unary.options({ stream: true });
});
afterAll(() => s[Symbol.asyncDispose]());

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe("handle streams", () => {
  test("the seed's Streamer/Caller example yields range(10) through two hops", async () => {
    const h = await serve.run(streamExample, { name: "seed", routePrefix: null });
    expect(await collect(h.options({ stream: true }).remote(10))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  test("sync and async generators and iterables stream in order", async () => {
    expect(await collect(producer.count.remote(2500))).toEqual(Array.from({ length: 2500 }, (_, i) => i));
    expect(await collect(producer.slowCount.remote(3, 1))).toEqual([0, 1, 2]);
    expect(await collect(producer.iterable.remote(3))).toEqual([0, 10, 20]);
    expect(await collect(producer.bytes.remote())).toEqual([new Uint8Array([1, 2, 3])]);
  });

  test("an empty generator ends at once", async () => {
    expect(await collect(producer.empty.remote())).toEqual([]);
  });

  test("an error mid-stream comes after the items before it", async () => {
    const got: number[] = [];
    let error: Error | undefined;
    try {
      for await (const x of producer.failsAfter.remote(3)) got.push(x);
    } catch (e) {
      error = e as Error;
    }
    expect(got).toEqual([0, 1, 2]);
    expect(error?.name).toBe("RangeError");
    expect(error?.message).toBe("stopped after 3");
  });

  test("a generator method called without stream: true rejects with a TypeError naming the fix", async () => {
    const err = await unary.generatorCalledUnary.remote().catch((e) => e);
    expect(err.name).toBe("TypeError");
    expect(err.message).toContain("options({ stream: true })");
  });

  test("stream: true on a method returning a non-iterable fails on the first read", async () => {
    const gen = producer.notIterable.remote();
    const err = await gen.next().catch((e) => e);
    expect(err.name).toBe("TypeError");
    expect(err.message).toContain("not a generator or iterable");
  });

  test("a streaming response cannot be passed to another call", () => {
    const gen = producer.count.remote(1);
    expect(() => unary.iterable.remote(gen as any)).toThrow(/streaming response/);
    gen.cancel();
  });

  test("the request context is available inside the generator body", async () => {
    const [id] = await collect(producer.context.remote());
    expect(typeof id).toBe("string");
    expect((id as string).length).toBeGreaterThan(0);
  });

  test("a fast producer stays a bounded number of items ahead of a slow consumer", async () => {
    const counter = new SharedArrayBuffer(12);
    const produced = new Int32Array(counter);
    const gen = producer.endless.remote(counter);
    for (let i = 0; i < 10; i++) await gen.next();
    // Give the producer every chance to run ahead, then check it stopped within the window.
    await eventually(() => Atomics.load(produced, 0) >= 1000, 5000);
    await sleep(50);
    expect(Atomics.load(produced, 0)).toBeLessThanOrEqual(1000 + 10 + 1);
    await gen.return();
  });

  test("leaving the loop early stops the producer: its finally runs and its signal fires", async () => {
    const counter = new SharedArrayBuffer(12);
    const flags = new Int32Array(counter);
    for await (const x of producer.endless.remote(counter)) if (x === 5) break;
    await eventually(() => Atomics.load(flags, 1) === 1);
    expect(Atomics.load(flags, 2)).toBe(1);
  });

  test("cancel() stops the producer and later reads reject with RequestCancelledError", async () => {
    const gen = producer.slowCount.remote(1000, 5);
    await gen.next();
    gen.cancel();
    const err = await gen.next().catch((e) => e);
    expect(err.name).toBe("RequestCancelledError");
  });

  test("cancelling a relay cancels the stream it consumes, recursively", async () => {
    const relay = (await serve.run(relayApp, { name: "relay", routePrefix: null })) as DeploymentHandle<typeof Relay>;
    const counter = new SharedArrayBuffer(12);
    const flags = new Int32Array(counter);
    const gen = relay.options({ stream: true }).relay.remote(counter);
    for (let i = 0; i < 3; i++) await gen.next();
    gen.cancel();
    await eventually(() => Atomics.load(flags, 1) === 1);
    expect(Atomics.load(flags, 2)).toBe(1);
  });

  test("several streams interleave independently on one replica", async () => {
    const a = producer.slowCount.remote(5, 1);
    const b = producer.count.remote(5);
    const [x, y] = await Promise.all([collect(a), collect(b)]);
    expect(x).toEqual([0, 1, 2, 3, 4]);
    expect(y).toEqual([0, 1, 2, 3, 4]);
  });
});
