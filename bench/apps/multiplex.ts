// Deployments for the multiplexing benchmark: the same model cache, reached either by
// model-affinity routing (the multiplexed model id) or by model-blind routing (the id as an argument).
import { serve } from "tsserve";

export const LOAD_MS = 20;

async function load(id: string) {
  await new Promise((r) => setTimeout(r, LOAD_MS));
  return { id };
}

/** Routed by model id: the request carries it as its multiplexed model id. */
export const Routed = serve.deployment(class Routed {
  getModel = serve.multiplexed(load, { maxNumModelsPerReplica: 4 });
  async call() {
    return (await this.getModel()).id;
  }
}, { numReplicas: 2, maxOngoingRequests: 8 });

/** Baseline: the id comes as an argument, so routing cannot see it (power of two choices). */
export const Blind = serve.deployment(class Blind {
  getModel = serve.multiplexed(load, { maxNumModelsPerReplica: 4 });
  async call(id: string) {
    return (await this.getModel(id)).id;
  }
}, { numReplicas: 2, maxOngoingRequests: 8 });

export const routedApp = Routed.bind();
export const blindApp = Blind.bind();
