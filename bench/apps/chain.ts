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

/** The same chain with a large value between the two: an embedding of 1,000 numbers (about 19 KB as JSON). */
export const Embedder = serve.deployment(class Embedder {
  call(x: number): number[] {
    return Array.from({ length: 1000 }, (_, i) => x + i / 1000);
  }
}, options);

export const Scorer = serve.deployment(class Scorer {
  call(v: number[]): number {
    return v.length;
  }
}, { ...options, numReplicas: 2 });

export const VectorIngress = serve.deployment(class VectorIngress {
  constructor(
    private embedder: DeploymentHandle<typeof Embedder>,
    private scorer: DeploymentHandle<typeof Scorer>,
    private awaitFirst: boolean,
  ) {}
  async call(): Promise<number> {
    if (this.awaitFirst) return await this.scorer.remote(await this.embedder.remote(5));
    return await this.scorer.remote(this.embedder.remote(5));
  }
}, options);

export const vectorChainedApp = VectorIngress.bind(Embedder.bind(), Scorer.bind(), false);
export const vectorAwaitedApp = VectorIngress.bind(Embedder.bind(), Scorer.bind(), true);
