// The cluster scale run's deployment: answers with the id of the replica that served the request.
import { serve } from "tsserve";

export const Who = serve.deployment(
  class Who {
    call(): string {
      return serve.getReplicaContext().replicaId;
    }
  },
  { numReplicas: 16 },
);

export const app = Who.bind();
