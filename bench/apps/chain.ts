// The seeds' chain for the bench: Ingress -> Adder -> Multiplier (2 replicas), with the adder's
// response passed on unawaited (chained) or awaited first and its value passed (awaited).
import { serve, type DeploymentHandle } from "tsserve";
import { BENCH_MAX_ONGOING } from "./noop.ts";

const options = { maxOngoingRequests: BENCH_MAX_ONGOING };

export const Adder = serve.deployment(class Adder {
  call(x: number): number {
    return x + 1;
  }
}, options);

export const Multiplier = serve.deployment(class Multiplier {
  call(x: number): number {
    return x * 2;
  }
}, { ...options, numReplicas: 2 });

export const ChainIngress = serve.deployment(class ChainIngress {
  constructor(
    private adder: DeploymentHandle<typeof Adder>,
    private multiplier: DeploymentHandle<typeof Multiplier>,
    private awaitFirst: boolean,
  ) {}
  /** Over HTTP `GET /?x=5`; over a handle `remote(5)`, or `remote()` for 5. */
  async call(req?: Request | number): Promise<number> {
    const x = req === undefined ? 5 : typeof req === "number" ? req : Number(new URL(req.url).searchParams.get("x") ?? 5);
    if (this.awaitFirst) return await this.multiplier.remote(await this.adder.remote(x));
    return await this.multiplier.remote(this.adder.remote(x));
  }
}, options);

export const chainedApp = ChainIngress.bind(Adder.bind(), Multiplier.bind(), false);
export const awaitedApp = ChainIngress.bind(Adder.bind(), Multiplier.bind(), true);
