// The seed's Hello + World + Ingress: the ingress calls two deployments and joins their answers.
//   npx bun examples/hello_world.ts   ->  Hello world!
//   curl http://127.0.0.1:8000/   ->  Hello world!   (served by tsserve run)
import { serve, type DeploymentHandle } from "tsserve";

export const Hello = serve.deployment(class Hello {
  call(): string {
    return "Hello";
  }
});

export const World = serve.deployment(class World {
  call(): string {
    return " world!";
  }
});

export const Ingress = serve.deployment(class Ingress {
  constructor(
    private hello: DeploymentHandle<typeof Hello>,
    private world: DeploymentHandle<typeof World>,
  ) {}

  async call(): Promise<string> {
    // Both requests are sent before either is awaited, so they run at the same time.
    const hello = this.hello.remote();
    const world = this.world.remote();
    return (await hello) + (await world);
  }
});

// The applications passed to the Ingress constructor become handles in its replica.
export const app = Ingress.bind(Hello.bind(), World.bind());

if (import.meta.main) {
  await serve.start({ http: { port: 0 } });
  const handle = await serve.run(app, { routePrefix: null });
  console.log(await handle.remote()); // Hello world!
  await serve.shutdown();
}
