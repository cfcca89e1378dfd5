// Frames sent just before a close: every one arrives, in order, then the close, whichever side
// closes. (Before the fix, an ingress that sent and closed at once, before the proxy had the
// client's socket, lost its frames; a client that sent and closed at once lost all but the first
// at a class ingress.)
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eventually, startServe, type Served } from "../harness.ts";
import { deployed } from "../fixtures/scope.ts";
import { ElysiaBurst, Firehose, Tally } from "../fixtures/websockets.ts";
import { closedWithin, openSocket, type TestSocket, wsUrl } from "./client.ts";

let served: Served;
beforeAll(async () => {
  served = await startServe();
});
afterAll(async () => {
  await served[Symbol.asyncDispose]();
});

/** Every message until the close, and the close. */
async function readToClose(s: TestSocket, timeoutMs = 10_000): Promise<{ got: (string | Uint8Array)[]; close: { code: number; reason: string } }> {
  const close = await closedWithin(s, timeoutMs);
  const got: (string | Uint8Array)[] = [];
  // Closed: what came before the close is all in the socket's inbox already.
  for (;;) {
    const m = await s.next(0).catch(() => undefined);
    if (m === undefined) break;
    got.push(m);
  }
  return { got, close };
}

const numbers = (n: number): string[] => Array.from({ length: n }, (_, i) => String(i));

describe("frames sent right before a close", () => {
  test("an ingress that yields and returns at once: the client gets every frame, then 1000", async () => {
    await using _ = await deployed(Firehose.bind(), { name: "cf-gen", routePrefix: "/gen" });
    for (const n of [1, 3, 20]) {
      await using s = await openSocket(wsUrl(served.url, `/gen?n=${n}`));
      expect(await readToClose(s)).toEqual({ got: numbers(n), close: { code: 1000, reason: "" } });
    }
  });

  test("an Elysia route that sends and closes as it opens: the client gets every frame, then its close", async () => {
    await using _ = await deployed(ElysiaBurst.bind(), { name: "cf-elysia", routePrefix: "/burst" });
    await using s = await openSocket(wsUrl(served.url, "/burst/burst?n=5"));
    expect(await readToClose(s)).toEqual({ got: numbers(5), close: { code: 4001, reason: "said it all" } });
  });

  test("a client that sends and closes at once: the ingress reads every frame, in order, before messages ends", async () => {
    const tallies = new SharedArrayBuffer(8);
    const t = new Int32Array(tallies);
    await using _ = await deployed(Tally.bind(tallies), { name: "cf-client", routePrefix: "/tally" });
    const s = await openSocket(wsUrl(served.url, "/tally?slot=0"));
    expect(await s.next()).toBe("ready");
    for (const m of numbers(50)) s.send(m);
    s.ws.close(4000, "bye");
    await closedWithin(s);
    await eventually(() => Atomics.load(t, 1) === 1);
    expect(Atomics.load(t, 0)).toBe(50);
  });

  test("a client that sends and closes while the ingress is busy: the ingress still reads every frame, then messages ends", async () => {
    const tallies = new SharedArrayBuffer(8);
    const t = new Int32Array(tallies);
    await using _ = await deployed(Tally.bind(tallies), { name: "cf-late", routePrefix: "/late" });
    const s = await openSocket(wsUrl(served.url, "/late?slot=0&late=1"));
    expect(await s.next()).toBe("ready");
    for (const m of numbers(50)) s.send(m);
    s.ws.close(4000, "bye");
    await closedWithin(s);
    await eventually(() => Atomics.load(t, 1) === 1);
    expect(Atomics.load(t, 0)).toBe(50);
  });
});

describe("frames sent right before a close, under load", () => {
  test("60 sockets that each send 200 frames and close at once, half to a busy ingress: every ingress read all 200", async () => {
    const SOCKETS = 60;
    const FRAMES = 200;
    const tallies = new SharedArrayBuffer(8 * SOCKETS);
    const t = new Int32Array(tallies);
    await using _ = await deployed(Tally.options({ numReplicas: 2 }).bind(tallies), { name: "cf-load-in", routePrefix: "/tallies" });
    await Promise.all(
      Array.from({ length: SOCKETS }, async (_, slot) => {
        const s = await openSocket(wsUrl(served.url, `/tallies?slot=${slot}${slot % 2 ? "&late=1" : ""}`), {}, 20_000);
        expect(await s.next(20_000)).toBe("ready");
        for (const m of numbers(FRAMES)) s.send(m);
        s.ws.close(4000, "bye");
        await closedWithin(s, 20_000);
      }),
    );
    await eventually(() => Array.from({ length: SOCKETS }, (_, i) => Atomics.load(t, 2 * i + 1)).every((ended) => ended === 1), 20_000);
    expect(Array.from({ length: SOCKETS }, (_, i) => Atomics.load(t, 2 * i))).toEqual(Array(SOCKETS).fill(FRAMES));
  }, 60_000);

  test("60 sockets whose ingress sends 100 frames and returns at once: every client got all 100, then 1000", async () => {
    await using _ = await deployed(Firehose.options({ numReplicas: 2 }).bind(), { name: "cf-load-out", routePrefix: "/bursts" });
    const results = await Promise.all(
      Array.from({ length: 60 }, async () => {
        await using s = await openSocket(wsUrl(served.url, "/bursts?n=100"), {}, 20_000);
        return await readToClose(s, 20_000);
      }),
    );
    for (const r of results) expect(r).toEqual({ got: numbers(100), close: { code: 1000, reason: "" } });
  }, 60_000);
});
