import { test } from "bun:test";
import { Sim } from "/work/wt/cluster-sim/tests/cluster/control_sim.ts";
test("x", async () => {
  const sim = new Sim(1);
  sim.install();
  try {
    let n = 0;
    setInterval(() => n++, 1000);
    await sim.runUntil(10000);
    console.log("n", n, sim.now);
  } finally { sim.uninstall(); }
});
