// Batching: the model of examples/batching.ts (2 ms a call plus 0.05 ms an item, blocking its
// replica) called through a handle at the same concurrency without and with serve.batch. The
// unbatched model is the floor; the batched row prints its ratio to it, and the mean batch size.
import type { DeploymentHandle } from "tsserve";
import { BatchedModel, UnbatchedModel } from "../../examples/batching.ts";
import type { Row } from "../report.ts";
import type { BenchCase } from "./index.ts";
import { withServe } from "./serve.ts";

const CONCURRENCY = 64;

type Model = DeploymentHandle<typeof BatchedModel> | DeploymentHandle<typeof UnbatchedModel>;

/** `CONCURRENCY` callers, one call after another, for `durationS`: calls per second and items per batch. */
async function measure(handle: Model, durationS: number): Promise<{ perS: number; meanBatch: number }> {
  let stop = false;
  let done = 0;
  const loop = async () => {
    for (let i = 0; !stop; i++) {
      await handle.predict.remote(i);
      done++;
    }
  };
  // Warm-up: the replica's JIT and the batch queue see the same load before the clock starts.
  let loops = Array.from({ length: CONCURRENCY }, loop);
  await Bun.sleep(300);
  stop = true;
  await Promise.all(loops);
  const before = await handle.stats.remote();
  stop = false;
  done = 0;
  const t0 = Bun.nanoseconds();
  loops = Array.from({ length: CONCURRENCY }, loop);
  await Bun.sleep(durationS * 1000);
  stop = true;
  await Promise.all(loops);
  const seconds = (Bun.nanoseconds() - t0) / 1e9;
  const after = await handle.stats.remote();
  return { perS: done / seconds, meanBatch: (after.items - before.items) / Math.max(1, after.batches - before.batches) };
}

export const batching: BenchCase = {
  name: "batching: serve.batch vs none",
  async run(ctx) {
    const durationS = ctx.quick ? 1 : 3;
    const plain = await withServe(UnbatchedModel.bind(), (_url, h) => measure(h as unknown as Model, durationS));
    const batched = await withServe(BatchedModel.bind(), (_url, h) => measure(h as unknown as Model, durationS));
    const rows: Row[] = [
      { name: `batch: no batching, ${CONCURRENCY} in flight`, value: plain.perS, unit: "calls/s" },
      { name: `batch: serve.batch (max 32), ${CONCURRENCY} in flight`, value: batched.perS, unit: "calls/s", ratioTo: plain.perS },
      { name: "batch:   mean batch size", value: batched.meanBatch, unit: "items/batch", ratioTo: plain.meanBatch },
    ];
    return rows;
  },
};
