// Dynamic batching (@serve.batch): a model whose cost is mostly a fixed overhead per call
// answers many callers with one call, by batching their requests with serve.batch.
//   curl -X POST http://127.0.0.1:8000/ -d '3'
import { serve } from "tsserve";

/**
 * Stands in for a model on an accelerator: 2 ms per call however many inputs, plus 0.05 ms
 * per input. It blocks its thread, as inference does.
 */
export function predict(inputs: number[]): number[] {
  const end = performance.now() + 2 + 0.05 * inputs.length;
  while (performance.now() < end);
  return inputs.map((x) => x * 2);
}

export const BatchedModel = serve.deployment(class BatchedModel {
  batches = 0;
  items = 0;

  // Up to 32 concurrent requests share one predict() call; a lone request waits at most 5 ms.
  predictBatch = serve.batch(
    async (inputs: number[]) => {
      this.batches++;
      this.items += inputs.length;
      return predict(inputs);
    },
    { maxBatchSize: 32, batchWaitTimeoutMs: 5 },
  );

  async predict(x: number): Promise<number> {
    return await this.predictBatch(x);
  }

  /** HTTP: the body is a number. */
  async call(request: Request): Promise<number> {
    return await this.predictBatch(Number(await request.text()));
  }

  /** Batches run and items served so far. */
  stats() {
    return { batches: this.batches, items: this.items };
  }
}, { maxOngoingRequests: 64 });

/** The same model without batching: one predict() call per request. */
export const UnbatchedModel = serve.deployment(class UnbatchedModel {
  batches = 0;
  items = 0;

  predict(x: number): number {
    this.batches++;
    this.items++;
    return predict([x])[0]!;
  }

  stats() {
    return { batches: this.batches, items: this.items };
  }
}, { maxOngoingRequests: 64 });

export const app = BatchedModel.bind();

if (import.meta.main) {
  await serve.start({ http: { port: 0 } });
  const handle = await serve.run(app, { routePrefix: null });
  const results = await Promise.all(Array.from({ length: 64 }, (_, i) => handle.predict.remote(i)));
  console.log(results.slice(0, 4)); // [0, 2, 4, 6]
  const { batches, items } = await handle.stats.remote();
  console.log(`${items} requests in ${batches} batches`); // 64 requests in 2 batches (or 3)
  await serve.shutdown();
}
