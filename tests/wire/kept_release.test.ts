// A value kept at its replica for a passed response that nobody reads is released when the
// response object is collected (call.ts registers the response only once its value is kept).
import { expect, test } from "bun:test";
import { DeploymentResponse } from "../../sdk/response.ts";
import { sleep } from "../harness.ts";
import { Sim } from "./sim.ts";

const NAME = "a value kept at its replica for a dropped response is released once the response is collected";

test(NAME, async () => {
  const sim = new Sim(7, "sim", { maxOngoingRequests: 100, maxQueuedRequests: -1 });
  const main = sim.thread("main");
  // Not cheap to copy: a value sent on downstream stays at the adder, and main gets `Kept` without it.
  // It answers at a later step: the calls that depend on it wait for it there (the short road).
  const adder = sim.replica("Adder#1", "Adder", { call: (x: number) => new Promise((resolve) => sim.later(() => resolve({ n: x + 1, pad: "x".repeat(1000) }))) });
  sim.replica("Multiplier#1", "Multiplier", { call: (v: { n: number }) => v.n * 2 });
  const products: number[] = [];
  // In a function of its own, so no response outlives it on this frame.
  (() => {
    for (let x = 0; x < 20; x++) {
      const sum = new DeploymentResponse<{ n: number }>(main.call(sim.target("Adder"), {}, "call", [x]) as never);
      void new DeploymentResponse<number>(main.call(sim.target("Multiplier"), {}, "call", [sum]) as never).then((v) => products.push(v));
    }
  })();
  await sim.run();
  expect(products.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, x) => (x + 1) * 2));
  expect(adder.replica.kept.size).toBeGreaterThan(0);
  for (let i = 0; i < 200 && adder.replica.kept.size > 0; i++) {
    Bun.gc(true);
    await sleep(5); // finalizers run on a later turn of the loop; then the Releases are delivered
    await sim.run();
  }
  expect(adder.replica.kept.size).toBe(0);
});
