// Cancellation scopes: a cancel reaches its own request and the calls it made, nothing else;
// a client that leaves a queue leaves it; a request timeout after a stream started cuts it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { serve } from "tsserve";
import { mainRuntime } from "../../runtime/main.ts";
import { eventually, startServe, type Served } from "../harness.ts";
import { Leaf, OneAtATime, Root, SlowStream } from "../fixtures/lifecycle2.ts";

let s: Served;
beforeAll(async () => {
  s = await startServe({ requestTimeoutMs: 800 });
});
afterAll(() => s[Symbol.asyncDispose]());

const count = (flags: SharedArrayBuffer, slot: number) => Atomics.load(new Int32Array(flags), slot);
const errorOf = (p: PromiseLike<unknown>) => Promise.resolve(p).then(() => undefined, (e: Error) => e);
const SLEEPS = 0;
const ABORTED = 1;
const PLAIN = 2;

/** Reads a response body to its end; rejects if the stream breaks. */
async function drain(reader: { read(): Promise<{ done?: boolean }> }): Promise<void> {
  for (;;) if ((await reader.read()).done) return;
}

describe("cancellation", () => {
  test("a cancel reaches its request and its downstream call only: not other requests, not calls made in the constructor or init", async () => {
    const flags = new SharedArrayBuffer(12);
    const h = await serve.run(Root.bind(Leaf.bind(flags), flags), { name: "scope", routePrefix: null });
    const doomed = h.remote(5000);
    const sibling = h.remote(300);
    const plain = h.plain.remote(300);
    // Two sleeps from the constructor and init, two from requests; one plain request.
    await eventually(() => count(flags, SLEEPS) === 4 && count(flags, PLAIN) === 1);
    doomed.cancel();
    expect((await errorOf(doomed))?.name).toBe("RequestCancelledError");
    await eventually(() => count(flags, ABORTED) === 1);
    expect(await sibling).toBe("slept");
    expect(await plain).toEqual({ aborted: false });
    expect(await h.background.remote()).toEqual(["slept", "slept"]);
    expect(count(flags, ABORTED)).toBe(1);
    await serve.delete("scope");
  });

  test("a client that disconnects while its request is queued takes it out of the queue", async () => {
    const flags = new SharedArrayBuffer(4);
    await serve.run(OneAtATime.bind(flags), { name: "queued", routePrefix: "/queued" });
    const router = mainRuntime().client.router({ appName: "queued", deploymentName: "OneAtATime" }, "proxy");
    const first = fetch(`${s.url}/queued?ms=400`);
    await eventually(() => count(flags, 0) === 1);
    const ac = new AbortController();
    const second = fetch(`${s.url}/queued?ms=0`, { signal: ac.signal }).then(() => undefined, (e: Error) => e);
    await eventually(() => router.queued === 1);
    ac.abort();
    expect((await second)?.name).toBe("AbortError");
    await eventually(() => router.queued === 0);
    expect(count(flags, 0)).toBe(1);
    const res = await first;
    expect([res.status, await res.text()]).toEqual([200, "done"]);
    // The replica's slot is free again, and the abandoned request never ran.
    expect(await (await fetch(`${s.url}/queued?ms=0`)).text()).toBe("done");
    expect(count(flags, 0)).toBe(2);
    await serve.delete("queued");
  });

  test("a client that disconnects mid-stream stops the producer: its finally runs, its signal fired", async () => {
    const flags = new SharedArrayBuffer(8);
    await serve.run(SlowStream.bind(flags), { name: "leave", routePrefix: "/leave" });
    const ac = new AbortController();
    const res = await fetch(`${s.url}/leave`, { signal: ac.signal });
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("first\n");
    ac.abort();
    await eventually(() => count(flags, 0) === 1);
    expect(count(flags, 1)).toBe(1);
    await serve.delete("leave");
  });
});

describe("http.requestTimeoutMs", () => {
  test("after a stream started, the timeout cuts it: the client sees a broken stream, the producer's finally runs", async () => {
    const flags = new SharedArrayBuffer(8);
    await serve.run(SlowStream.bind(flags), { name: "cut", routePrefix: "/cut" });
    const t0 = performance.now();
    const res = await fetch(`${s.url}/cut`);
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("first\n");
    const err = await errorOf(drain(reader));
    expect(err).toBeInstanceOf(Error);
    expect(performance.now() - t0).toBeLessThan(3000);
    await eventually(() => count(flags, 0) === 1);
    expect(count(flags, 1)).toBe(1);
    await serve.delete("cut");
  });
});
