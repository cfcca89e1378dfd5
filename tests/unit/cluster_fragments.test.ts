/** Batches bigger than one NATS message (runtime/cluster/fragments.ts): split, interleaved with other ports, put back together. */
import { expect, test } from "bun:test";
import { fragment, Reassembly } from "../../runtime/cluster/fragments.ts";

const MAX = 100_000;
const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * seed) % 251);

test("a batch that fits is one message, passed through as it is", () => {
  const msgs = fragment(["main@w1", "app#D#1"], [[1, "call", { x: 1 }]], MAX);
  expect(msgs.length).toBe(1);
  expect(new Reassembly().receive(msgs[0]!, 2)).toEqual(["main@w1", "app#D#1", [[1, "call", { x: 1 }]]]);
});

test("a bigger batch goes as fragments under the limit, and comes back whole between other ports' messages", () => {
  const big = [[7, "body", bytes(450_000, 7)]];
  const a = fragment(["t1", "r1"], big, MAX);
  const b = fragment(["t2", "r1"], [[8, "body", bytes(250_000, 3)]], MAX);
  const small = fragment(["t3", "r1"], ["small"], MAX);
  expect(a.length).toBeGreaterThan(4);
  for (const m of [...a, ...b]) expect(m.byteLength).toBeLessThanOrEqual(MAX);
  // Each port's fragments in order, the ports interleaved, as NATS may deliver them.
  const order: Uint8Array[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i]) order.push(a[i]!);
    if (i === 1) order.push(small[0]!);
    if (b[i]) order.push(b[i]!);
  }
  const r = new Reassembly();
  const whole = order.map((m) => r.receive(m, 2)).filter((m) => m !== undefined);
  expect(whole.length).toBe(3);
  expect(whole[0]).toEqual(["t3", "r1", ["small"]]);
  expect(whole[1]).toEqual(["t2", "r1", [[8, "body", bytes(250_000, 3)]]]);
  expect(whole[2]).toEqual(["t1", "r1", big]);
});

test("what a gone port half sent is dropped", () => {
  const r = new Reassembly();
  const a = fragment(["t1", "r1"], [bytes(300_000, 5)], MAX);
  r.receive(a[0]!, 2);
  r.forget(([thread]) => thread === "t1");
  // The rest alone is not taken for a whole batch; the port's next batch arrives whole.
  expect(a.slice(1).map((m) => r.receive(m, 2))).toEqual(a.slice(1).map(() => undefined));
  const next = fragment(["t1", "r1"], [bytes(200_000, 9)], MAX).map((m) => r.receive(m, 2));
  expect(next.at(-1)).toEqual(["t1", "r1", [bytes(200_000, 9)]]);
});
