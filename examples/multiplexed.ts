// The seed's MultiModel: one deployment serving many models, picked per request by the
// serve_multiplexed_model_id header, with an LRU cache of models per replica.
//   curl -H 'serve_multiplexed_model_id: en' -X POST http://127.0.0.1:8000/ -d '[1, 2, 3]'
import { serve } from "tsserve";

/** Stands in for loading weights from storage: a model that scales its input. */
async function loadModel(modelId: string) {
  await new Promise((r) => setTimeout(r, 10));
  const scale = [...modelId].reduce((n, c) => n + c.charCodeAt(0), 0) % 7 + 1;
  return {
    id: modelId,
    predict: (xs: number[]) => xs.map((x) => x * scale),
    dispose() {},
  };
}

export const MultiModel = serve.deployment(class MultiModel {
  getModel = serve.multiplexed(loadModel, { maxNumModelsPerReplica: 10 });

  async call(request: Request) {
    const model = await this.getModel(serve.getMultiplexedModelId());
    return { model: model.id, replica: serve.getReplicaContext().replicaId, output: model.predict((await request.json()) as number[]) };
  }
}, { numReplicas: 2 });

export const app = MultiModel.bind();
