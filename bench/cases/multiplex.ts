// Issue 4: 2 replicas holding at most 4 models each, 6 models asked for with a skewed (Zipf)
// mix, a load costing a fixed delay. Reports model loads per 1000 requests and the share of
// requests served by a replica that already held the model, with model-affinity routing and
// with model-blind routing (the baseline), in the same run.
import { serve, type Application, type DeploymentHandle } from "tsserve";
import { blindApp, routedApp } from "../apps/multiplex.ts";
import type { Row } from "../report.ts";
import type { BenchCase } from "./index.ts";
import { withServe } from "./serve.ts";

const MODELS = ["m0", "m1", "m2", "m3", "m4", "m5"];

/** A Zipf(s = 1.1) draw over the models, from a seeded generator so both runs see one sequence. */
function zipfSequence(n: number, seed = 42): string[] {
  const weights = MODELS.map((_, i) => 1 / Math.pow(i + 1, 1.1));
  const total = weights.reduce((a, b) => a + b, 0);
  let x = seed;
  const rand = () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  return Array.from({ length: n }, () => {
    let r = rand() * total;
    for (let i = 0; i < MODELS.length; i++) if ((r -= weights[i]!) <= 0) return MODELS[i]!;
    return MODELS.at(-1)!;
  });
}

async function run(app: Application, routed: boolean, sequence: string[], concurrency: number): Promise<{ loads: number }> {
  return withServe(app, async (_url, handle: DeploymentHandle) => {
    let next = 0;
    const worker = async () => {
      while (next < sequence.length) {
        const id = sequence[next++]!;
        const got = routed ? await handle.options({ multiplexedModelId: id }).remote() : await handle.remote(id);
        if (got !== id) throw new Error(`multiplex bench: asked for ${id}, got ${got}`);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const st = await serve.status();
    const replicas = Object.values(st.applications.bench!.deployments)[0]!.replicas;
    return { loads: replicas.reduce((n, r) => n + (r.modelLoads ?? 0), 0) };
  });
}

export const multiplexing: BenchCase = {
  name: "multiplexing: affinity vs blind routing",
  async run(ctx) {
    const sequence = zipfSequence(ctx.quick ? 1000 : 3000);
    const routed = await run(routedApp, true, sequence, 8);
    const blind = await run(blindApp, false, sequence, 8);
    const per1000 = (loads: number) => (loads * 1000) / sequence.length;
    // A request needs a load only when its replica did not hold the model: hits = requests - loads.
    const hit = (loads: number) => 1 - loads / sequence.length;
    return [
      { name: "multiplex: hit share, affinity routing", value: hit(routed.loads) * 100, unit: "%", targetValue: 95 },
      { name: "multiplex: hit share, blind routing", value: hit(blind.loads) * 100, unit: "%" },
      { name: "multiplex: loads / 1000 req, affinity", value: per1000(routed.loads), unit: "loads", ratioTo: per1000(blind.loads) || undefined, lowerIsBetter: true },
      { name: "multiplex: loads / 1000 req, blind", value: per1000(blind.loads), unit: "loads" },
    ] satisfies Row[];
  },
};
