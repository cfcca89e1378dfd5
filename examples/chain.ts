// The seed's chain.py: Adder and Multiplier chained by an Ingress. (5 + 1) * 2 = 12.
//   npx bun examples/chain.ts   ->  12
import { serve, type DeploymentHandle } from "tsserve";

export const Adder = serve.deployment(class Adder {
  constructor(private increment: number) {}
  call(val: number): number {
    return val + this.increment;
  }
});

export const Multiplier = serve.deployment(class Multiplier {
  constructor(private multiple: number) {}
  call(val: number): number {
    return val * this.multiple;
  }
});

export const Ingress = serve.deployment(class Ingress {
  constructor(
    private adder: DeploymentHandle<typeof Adder>,
    private multiplier: DeploymentHandle<typeof Multiplier>,
  ) {}
  async call(input: number): Promise<number> {
    // Pass the adder's response straight on: no await needed, the value goes replica to replica.
    return await this.multiplier.remote(this.adder.remote(input));
  }
});

export const app = Ingress.bind(Adder.bind(1), Multiplier.bind(2));

if (import.meta.main) {
  await serve.start({ http: { port: 0 } });
  const handle = await serve.run(app, { routePrefix: null });
  console.log(await handle.remote(5)); // 12
  await serve.shutdown();
}
