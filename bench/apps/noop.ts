// Deployments the benchmark runs. They live in their own module because each replica Worker
// imports the module that defined its deployment (importing bench/run.ts there would rerun the bench).
import { serve, type DeploymentHandle } from "tsserve";

/** The bench's limit on requests in flight per replica: high enough that 64 HTTP connections
 *  or 256 in-flight handle calls never wait in the caller's queue (the default is 5, as in Ray). */
export const BENCH_MAX_ONGOING = 1024;

/** (c) and (e): answers "hello" to anything, over HTTP (`call(request)`) and over handles. */
export const NoOp = serve.deployment(
  class NoOp {
    call(): string {
      return "hello";
    }
  },
  { maxOngoingRequests: BENCH_MAX_ONGOING },
);

/** (d) downstream: the same no-op, under its own name. */
export const Downstream = serve.deployment(
  class Downstream {
    call(): string {
      return "hello";
    }
  },
  { maxOngoingRequests: BENCH_MAX_ONGOING },
);

/** (d) ingress: takes the HTTP request and answers with what the downstream replica returns. */
export const Ingress = serve.deployment(
  class Ingress {
    constructor(private down: DeploymentHandle<typeof Downstream>) {}
    async call(): Promise<string> {
      return await this.down.remote();
    }
  },
  { maxOngoingRequests: BENCH_MAX_ONGOING },
);

export const noopApp = NoOp.bind();
export const chainApp = Ingress.bind(Downstream.bind());
/** The same graphs with the default maxOngoingRequests (5), for comparison rows. */
export const noopAppDefault = NoOp.options({ maxOngoingRequests: 5 }).bind();
export const chainAppDefault = Ingress.options({ maxOngoingRequests: 5 }).bind(Downstream.options({ maxOngoingRequests: 5 }).bind());
