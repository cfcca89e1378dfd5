// Reading from a client on Deno, whose WebSocket cannot pause: what a client sends past the
// ingress's credit waits at the proxy, in order, up to a bound (runtime/platform/deno/websocket.ts).
// On Bun the proxy pauses the socket instead, and TCP holds the client back (load.test.ts).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { serve } from "tsserve";
import { eventually, startServe, type Served } from "../harness.ts";
import { deployed } from "../fixtures/scope.ts";
import { SlowReader } from "../fixtures/websockets.ts";
import { closedWithin, openSocket, wsUrl } from "./client.ts";

const onDeno = "Deno" in globalThis;

let served: Served;
beforeAll(async () => {
  served = await startServe();
});
afterAll(() => served[Symbol.asyncDispose]());

test.skipIf(!onDeno)("Deno only: a client that sends over 64 MiB past a stalled ingress is cut off; the proxy frees its socket", async () => {
  await using _ = await deployed(SlowReader.bind(), { name: "wd-held", routePrefix: "/held" });
  // The ingress takes 2 s over each message: past the first window, everything waits at the proxy.
  await using s = await openSocket(wsUrl(served.url, "/held?ms=2000"));
  const MiB = 1024 * 1024;
  const frame = new Uint8Array(MiB);
  let closing = false;
  s.closed.then(() => (closing = true));
  let sent = 0;
  // The client keeps at most 4 MiB unsent itself, so what it sent is about what the proxy read.
  while (sent < 300 && !closing) {
    s.send(frame);
    sent++;
    await eventually(() => closing || s.ws.bufferedAmount < 4 * MiB, 10_000, 1);
  }
  const closed = await closedWithin(s, 20_000);
  // The proxy closes with 1008; Deno's server drops the connection right after its close
  // frame, so a client still writing sees its write fail first (Deno's client: code 0).
  expect([1008, 1006, 0]).toContain(closed.code);
  // It held 64 MiB before it gave up; past that, a window at the ingress (30 such frames), the
  // client's 4 MiB and the kernel's socket buffers, not the 300 MiB the client would send.
  expect(sent).toBeGreaterThan(64);
  expect(sent).toBeLessThan(200);
  await eventually(async () => (await serve.status()).applications["wd-held"]!.numOngoingWebsockets === 0, 10_000);
}, 60_000);

test.skipIf(!onDeno)("Deno only: every frame held while the ingress is slow reaches it, none lost", async () => {
  await using _ = await deployed(SlowReader.bind(), { name: "wd-order", routePrefix: "/order" });
  await using s = await openSocket(wsUrl(served.url, "/order?ms=0"));
  // 1,500 frames: several windows' worth, so reading pauses and resumes many times.
  const N = 1500;
  for (let i = 0; i < N; i++) s.send(`m${i}`);
  s.send("count");
  expect(await s.next(30_000)).toBe(String(N + 1));
}, 60_000);
