import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { serve } from "tsserve";
import { eventually, startServe, type Served, sleep } from "../harness.ts";
import { fastFlags, httpApp, ingressFlags } from "../fixtures/streaming.ts";
import { app as tokenApp } from "../../examples/token_streamer.ts";

let s: Served;
beforeAll(async () => {
  s = await startServe();
  await serve.run(httpApp, { name: "http", routePrefix: "/s" });
  await serve.run(tokenApp, { name: "tokens", routePrefix: "/tokens" });
});
afterAll(() => s[Symbol.asyncDispose]());

describe("HTTP streaming", () => {
  test("a generator streams as a chunked text response", async () => {
    const res = await fetch(`${s.url}/s/text?n=3`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    expect(res.headers.get("x-request-id")).toBeTruthy();
    expect(await res.text()).toBe("chunk0;chunk1;chunk2;");
  });

  test("objects stream as JSON lines", async () => {
    const res = await fetch(`${s.url}/s/json?n=3`);
    expect(res.headers.get("content-type")).toBe("application/x-ndjson");
    expect(await res.text()).toBe('{"i":0}\n{"i":1}\n{"i":2}\n');
  });

  test("a Response with a ReadableStream body streams with its status and headers", async () => {
    const res = await fetch(`${s.url}/s/sse?n=3`);
    expect(res.status).toBe(201);
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    expect(res.headers.get("x-custom")).toBe("yes");
    expect(await res.text()).toBe(":\n\ndata: 0\n\ndata: 1\n\ndata: 2\n\n");
  });

  test("a handle stream returned by the ingress is the HTTP body", async () => {
    const res = await fetch(`${s.url}/s/handle?n=4`);
    expect(await res.text()).toBe("0\n1\n2\n3\n");
  });

  test("the first chunk arrives before the producer's second yield is released", async () => {
    const res = await fetch(`${s.url}/s/gated`);
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toBe("first;");
    // Only now let the producer go on: had the proxy buffered, we would never have got here.
    expect(await (await fetch(`${s.url}/s/release`)).text()).toBe("released");
    let rest = "";
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += new TextDecoder().decode(r.value);
    expect(rest).toBe("second;");
  });

  test("an error after the first chunk breaks the response instead of ending it cleanly", async () => {
    // The client sees a broken connection (before or after the head), never a clean end.
    const outcome = await fetch(`${s.url}/s/fail`).then((r) => r.text()).then(
      () => "clean end",
      () => "broken",
    );
    expect(outcome).toBe("broken");
  });

  test("a client that disconnects stops the producer: its finally runs and its signal fires", async () => {
    const flags = new Int32Array(ingressFlags);
    const ac = new AbortController();
    const res = await fetch(`${s.url}/s/endless`, { signal: ac.signal });
    const reader = res.body!.getReader();
    await reader.read();
    ac.abort();
    await eventually(() => Atomics.load(flags, 1) === 1);
    expect(Atomics.load(flags, 2)).toBe(1);
    const produced = Atomics.load(flags, 0);
    await sleep(30);
    expect(Atomics.load(flags, 0)).toBe(produced);
  });

  test("a client that stops reading slows the producer down (credits follow the body's pull)", async () => {
    const produced = new Int32Array(fastFlags);
    const ac = new AbortController();
    const res = await fetch(`${s.url}/s/fast`, { signal: ac.signal });
    const reader = res.body!.getReader();
    await reader.read();
    // The client reads nothing more. Unchecked, the producer would make hundreds of thousands
    // of chunks in this time; held back, it stops at the stream window plus socket buffers.
    const settle = async () => {
      let last = -1;
      while (Atomics.load(produced, 0) !== last) {
        last = Atomics.load(produced, 0);
        await sleep(100);
      }
      return last;
    };
    const held = await settle();
    expect(held).toBeLessThan(50_000);
    // Reading on lets it go on.
    for (let i = 0; i < 200; i++) await reader.read();
    await sleep(50);
    expect(Atomics.load(produced, 0)).toBeGreaterThan(held);
    ac.abort();
  });

  test("the seed's TokenStreamer streams server-sent events", async () => {
    const res = await fetch(`${s.url}/tokens`, { method: "POST", body: JSON.stringify({ prompt: "hello streaming world" }) });
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    // An event stream starts with one comment line, so the head leaves at once (proxy/body.ts).
    expect(await res.text()).toBe(":\n\ndata: hello\n\ndata: streaming\n\ndata: world\n\n");
  });
});
