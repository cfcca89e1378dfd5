// The seed's ensemble: two models run in parallel on the same input and their scores are averaged.
//   npx bun examples/ensemble.ts   ->  0.5
import { serve, type DeploymentHandle } from "tsserve";

export const ModelA = serve.deployment(class ModelA {
  call(x: number): number {
    return x * 0.25;
  }
});

export const ModelB = serve.deployment(class ModelB {
  call(x: number): number {
    return x * 0.75;
  }
});

export const Ensemble = serve.deployment(class Ensemble {
  constructor(
    private a: DeploymentHandle<typeof ModelA>,
    private b: DeploymentHandle<typeof ModelB>,
  ) {}

  async call(x: number): Promise<number> {
    const [a, b] = await Promise.all([this.a.remote(x), this.b.remote(x)]);
    return (a + b) / 2;
  }
});

export const app = Ensemble.bind(ModelA.bind(), ModelB.bind());

if (import.meta.main) {
  await serve.start({ http: { port: 0 } });
  const handle = await serve.run(app, { routePrefix: null });
  console.log(await handle.remote(1)); // 0.5
  await serve.shutdown();
}
