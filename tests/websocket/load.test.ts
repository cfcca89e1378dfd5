// WebSockets under load: many concurrent sockets, and flow control both ways.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { collectGarbage, startServe, type Served } from "../harness.ts";
import { deployed } from "../fixtures/scope.ts";
import { Echo, Firehose, SlowReader } from "../fixtures/websockets.ts";
import { openSocket, wsUrl } from "./client.ts";
import { slowRead } from "./slow_reader.ts";

/** The most the kernel may buffer on one loopback TCP connection: send plus receive buffer maximums. */
function kernelSocketBufferMax(): number {
  const max = (file: string, fallback: number) => {
    try {
      return Number(readFileSync(file, "utf8").trim().split(/\s+/)[2]);
    } catch {
      return fallback;
    }
  };
  return max("/proc/sys/net/ipv4/tcp_wmem", 4 << 20) + max("/proc/sys/net/ipv4/tcp_rmem", 6 << 20);
}

let served: Served;
beforeAll(async () => {
  served = await startServe();
});
afterAll(async () => {
  await served[Symbol.asyncDispose]();
});

describe("websockets under load", () => {
  test("50 concurrent sockets over 2 replicas keep the order and type of every frame both ways", async () => {
    await using _ = await deployed(Echo.bind(), { name: "wl-50", routePrefix: "/fifty" });
    const PER_SOCKET = 200;
    const replicas = new Set<string>();
    await Promise.all(
      Array.from({ length: 50 }, async (_, n) => {
        await using s = await openSocket(wsUrl(served.url, "/fifty"), {}, 20_000);
        replicas.add(JSON.parse((await s.next(20_000)) as string).replica);
        for (let i = 0; i < PER_SOCKET; i++) s.send(i % 2 ? `${n}:${i}` : new Uint8Array([n, i & 255, i >> 8]));
        for (let i = 0; i < PER_SOCKET; i++) {
          const m = await s.next(20_000);
          if (i % 2) expect(m).toBe(`text:${n}:${i}`);
          else expect(m).toEqual(new Uint8Array([i >> 8, i & 255, n]));
        }
      }),
    );
    expect(replicas.size).toBe(2);
  }, 60_000);

  test("100,000 messages from a fast ingress to a slow reader arrive in order, with memory bounded", async () => {
    const produced = new SharedArrayBuffer(4);
    await using _ = await deployed(Firehose.bind(produced), { name: "wl-fire", routePrefix: "/fire" });
    const N = 100_000;
    const SIZE = 1000;
    const STALL_AT = 10_000;
    let aheadWhileStalled = -1;
    collectGarbage();
    const before = process.memoryUsage().rss;
    let peak = before;
    let expected = 0;
    let inOrder = true;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    try {
      const read = await slowRead(served.url, `/fire?n=${N}&size=${SIZE}`, {
        bytesPerTick: 512 * 1024,
        tickMs: 5,
        timeoutMs: 60_000,
        keep: false,
        // The reader stops for 500 ms: the ingress must stop a bounded distance ahead.
        stall: { after: STALL_AT, ms: 500, then: () => (aheadWhileStalled = Atomics.load(new Int32Array(produced), 0) - STALL_AT) },
        onMessage: (m) => {
          if (parseInt(m, 10) !== expected++ || m.length !== String(expected - 1).length + SIZE) inOrder = false;
        },
      });
      expect(read.closeCode).toBe(1000);
    } finally {
      clearInterval(sampler);
    }
    expect(expected).toBe(N);
    expect(inOrder).toBe(true);
    const growthMb = (peak - before) / 2 ** 20;
    console.log(`[ws flow] ${N} x ${SIZE} B to a slow reader: RSS ${(before / 2 ** 20).toFixed(0)} MB -> peak ${(peak / 2 ** 20).toFixed(0)} MB (+${growthMb.toFixed(0)} MB; the whole stream is ${((N * SIZE) / 2 ** 20).toFixed(0)} MB)`);
    console.log(`[ws flow] while the reader stalled, the ingress was ${aheadWhileStalled} messages ahead of it`);
    // What may sit between them: credit windows (512 frames each way of the relay) and the
    // kernel's socket buffers (at most their configured maximum). Without flow control the
    // ingress would run all 90,000 messages left ahead.
    const kernelBytes = kernelSocketBufferMax();
    expect(aheadWhileStalled).toBeGreaterThan(0);
    expect(aheadWhileStalled).toBeLessThan(2 * 512 + kernelBytes / SIZE);
    // Garbage from 100 MB of strings moves RSS too; buffering the stream would add ~200 MB.
    expect(growthMb).toBeLessThan(150);
  }, 90_000);

  test("a slow ingress slows a fast client without losing a message", async () => {
    await using _ = await deployed(SlowReader.bind(), { name: "wl-slow", routePrefix: "/slow" });
    await using s = await openSocket(wsUrl(served.url, "/slow?ms=0"));
    // About 1 ms per message at the ingress: the client's sends outrun it by far.
    const N = 600;
    for (let i = 0; i < N; i++) s.send(`m${i}`);
    s.send("count");
    expect(await s.next(30_000)).toBe(String(N + 1));
  }, 60_000);

  test("large binary frames (2 MiB each, many credit units) cross both ways intact and in order", async () => {
    await using _ = await deployed(Echo.bind(), { name: "wl-large", routePrefix: "/large" });
    await using s = await openSocket(wsUrl(served.url, "/large"));
    await s.next();
    const frames = Array.from({ length: 8 }, (_, i) => new Uint8Array(2 * 1024 * 1024).fill(i));
    for (const f of frames) s.send(f);
    for (let i = 0; i < frames.length; i++) {
      const got = (await s.next(20_000)) as Uint8Array;
      expect(got.byteLength).toBe(2 * 1024 * 1024);
      expect(got[0]).toBe(i);
      expect(got[got.byteLength - 1]).toBe(i);
    }
  }, 60_000);
});
