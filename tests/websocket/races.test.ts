// Both ends closing at once, in random orders over real threads: every socket ends exactly once
// on both sides, and nothing leaks (counts, request slots, generators left running).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { serve } from "tsserve";
import { eventually, startServe, type Served } from "../harness.ts";
import { deployed } from "../fixtures/scope.ts";
import { Racer } from "../fixtures/websockets.ts";
import { wsUrl } from "./client.ts";
import { rng } from "../random.ts";

let served: Served;
beforeAll(async () => {
  served = await startServe();
});
afterAll(() => served[Symbol.asyncDispose]());


test("300 sockets closed by the client, the ingress, or an error, at random moments: no leak", async () => {
  const seed = Number(process.env.WS_RACE_SEED ?? Date.now() % 1e9);
  const random = rng(seed);
  await using app = await deployed(Racer.bind(), { name: "ws-races", routePrefix: "/race" });
  const outcomes = { client: 0, server: 0, error: 0 };
  const one = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const n = 1 + Math.floor(random() * 30);
      const closeAfter = random() < 0.5 ? Math.floor(random() * (n + 5)) : Infinity;
      const boomAt = random() < 0.06 ? Math.floor(random() * n) : -1;
      const ws = new WebSocket(wsUrl(served.url, `/race?n=${n}`));
      let got = 0;
      const timer = setTimeout(() => reject(new Error(`socket ${i} (seed ${seed}) did not end within 20 s`)), 20_000);
      ws.onopen = () => ws.send(`hello ${i}`);
      ws.onmessage = () => {
        got++;
        if (got === boomAt) ws.send("boom");
        else if (got % 4 === 0 && ws.readyState === WebSocket.OPEN) ws.send(`m${got}`);
        if (got >= closeAfter && ws.readyState === WebSocket.OPEN) ws.close(4000 + (i % 100));
      };
      ws.onerror = () => {};
      let ended = false;
      ws.onclose = (e) => {
        // Deno 2.9's client fires close twice when its close crosses the server's (code 0, then
        // 1000 "Bad resource"): a socket ends once.
        if (ended) return;
        ended = true;
        clearTimeout(timer);
        if (e.code === 1000) outcomes.server++;
        else if (e.code === 1011) outcomes.error++;
        else outcomes.client++;
        resolve();
      };
    });
  for (let batch = 0; batch < 6; batch++) await Promise.all(Array.from({ length: 50 }, (_, i) => one(batch * 50 + i)));
  console.log(`[ws races] seed ${seed}: ${JSON.stringify(outcomes)}`);
  expect(outcomes.client + outcomes.server + outcomes.error).toBe(300);
  expect(outcomes.server).toBeGreaterThan(0);
  expect(outcomes.client).toBeGreaterThan(0);
  // Nothing left open at the proxy, no generator left running in either replica...
  await eventually(async () => (await serve.status()).applications["ws-races"]!.numOngoingWebsockets === 0, 10_000);
  const idle = new Set<string>();
  await eventually(async () => {
    const r = await app.handle.running.remote();
    if (r.running === 0) idle.add(r.replica);
    return idle.size === 2;
  }, 10_000);
  // ...and no request slot held: more HTTP requests at once than maxOngoingRequests, all served.
  const answers = await Promise.all(Array.from({ length: 20 }, () => fetch(`${served.url}/race/x`, { signal: AbortSignal.timeout(10_000) }).then((r) => r.text())));
  expect(answers.every((a) => a === "http ok")).toBe(true);
}, 120_000);

test("100 Elysia sockets flooding their clients, half of them closed mid-flood: no leak", async () => {
  const { ElysiaFlood } = await import("../fixtures/websockets.ts");
  await using _ = await deployed(ElysiaFlood.bind(), { name: "ws-races-el", routePrefix: "/flood" });
  const ends = await Promise.all(
    Array.from(
      { length: 100 },
      (_, i) =>
        new Promise<number>((resolve, reject) => {
          const ws = new WebSocket(wsUrl(served.url, "/flood/flood?n=2000&size=10"));
          let got = 0;
          const timer = setTimeout(() => reject(new Error(`socket ${i} did not end within 20 s`)), 20_000);
          ws.onmessage = () => {
            if (++got === 50 + i * 10 && i % 2 === 0) ws.close(4001);
          };
          ws.onclose = (e) => {
            clearTimeout(timer);
            resolve(e.code);
          };
        }),
    ),
  );
  // Those left alone end when the flood does (1000); the others end with their own close, or
  // with the server's if its close crossed theirs (the flood is fast).
  expect(ends.filter((c, i) => i % 2 === 1 && c === 1000).length).toBe(50);
  expect(ends.every((c) => c === 1000 || c === 4001)).toBe(true);
  expect(ends.filter((c) => c === 4001).length).toBeGreaterThan(0);
  await eventually(async () => (await serve.status()).applications["ws-races-el"]!.numOngoingWebsockets === 0, 10_000);
  expect((await fetch(`${served.url}/flood/nothing-here`, { signal: AbortSignal.timeout(10_000) })).status).toBe(404);
}, 60_000);
