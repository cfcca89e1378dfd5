// Dev aid: the cluster codec's cost for one data-plane batch (encode + decode), against
// JSON.stringify/parse (what a plain-JSON batch costs between threads), structuredClone (what
// postMessage does otherwise) and @msgpack/msgpack's own encode/decode (which cannot keep
// undefined or -0), all in this run. Plain-JSON batches (see port.ts) can also travel as their
// JSON string inside the MessagePack: the second row. `bun bench/dev/codec.ts` (or `deno run -A bench/dev/codec.ts`).
import { decode, encode } from "@msgpack/msgpack";
import { decodeWire, encodeWire } from "../../runtime/cluster/codec.ts";

/** A batch of 64 small calls, as the router sends them: numbers and short strings. */
const calls = Array.from({ length: 64 }, (_, i) => ({ k: 1, id: 1000 + i, method: "call", args: [i, "hello"], ctx: { requestId: `req-${i}`, route: "/" } }));
/** Their answers. */
const answers = Array.from({ length: 64 }, (_, i) => ({ k: 10, id: 1000 + i, v: `hello ${i}` }));
/** Calls with an undefined field and a small byte array each (not JSON: they go by structured clone today). */
const rich = calls.map((c, i) => ({ ...c, args: [new Uint8Array(64).fill(i), undefined], ctx: { ...c.ctx, modelId: undefined } }));

const ways: Record<string, (v: unknown) => unknown> = {
  "encodeWire+decodeWire": (v) => decodeWire(encodeWire(v)),
  // A batch whose messages are all plain JSON travels between threads as one JSON string
  // (runtime/wire/port.ts); the same string can cross machines inside the MessagePack.
  "JSON batch as a string in the codec": (v) => JSON.parse(decodeWire(encodeWire(JSON.stringify(v))) as string),
  "JSON.stringify+parse": (v) => JSON.parse(JSON.stringify(v)),
  structuredClone: (v) => structuredClone(v),
  "@msgpack/msgpack encode+decode": (v) => decode(encode(v)),
};

/**
 * CPU microseconds per batch for each way (this process's CPU time, which stays meaningful when
 * other work shares the machine, unlike wall time): rounds of `n` round trips taking turns; the
 * median round of each.
 */
function measure(batch: unknown, n: number, rounds = 9): Record<string, number> {
  const times: Record<string, number[]> = {};
  for (let r = -1; r < rounds; r++) {
    for (const [way, f] of Object.entries(ways)) {
      const t = process.cpuUsage();
      for (let i = 0; i < n; i++) f(batch);
      const used = process.cpuUsage(t);
      if (r >= 0) (times[way] ??= []).push((used.user + used.system) / n); // round -1 warms up
    }
  }
  return Object.fromEntries(Object.entries(times).map(([way, ts]) => [way, ts.sort((a, b) => a - b)[rounds >> 1]!]));
}

const runtime = "Bun" in globalThis ? `Bun ${(globalThis as { Bun?: { version: string } }).Bun!.version}` : "Deno" in globalThis ? "Deno" : "Node";
console.log(`cluster codec, one batch of 64 messages, encode + decode (${runtime}); ratio = that way's time / the codec's`);
for (const [label, batch] of Object.entries({ "64 calls": calls, "64 answers": answers, "64 calls with bytes and undefined": rich })) {
  const us = measure(batch, 3000);
  const codec = us["encodeWire+decodeWire"]!;
  console.log(`\n${label}: ${encodeWire(batch).byteLength} bytes as MessagePack, ${JSON.stringify(batch).length} as JSON`);
  for (const [way, t] of Object.entries(us)) console.log(`  ${way.padEnd(36)} ${t.toFixed(1).padStart(7)} us CPU/batch  ${(t / codec).toFixed(2)}x`);
}
