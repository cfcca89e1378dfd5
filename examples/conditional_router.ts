// The seed's conditional routing: urgent requests go to the fast model, the rest to the slow one.
//   npx bun examples/conditional_router.ts   ->  fast: a  /  slow: b
import { serve, type DeploymentHandle } from "tsserve";

export interface Query {
  urgent: boolean;
  text: string;
}

export const FastModel = serve.deployment(class FastModel {
  call(request: Query): string {
    return `fast: ${request.text}`;
  }
});

export const SlowModel = serve.deployment(class SlowModel {
  async call(request: Query): Promise<string> {
    await new Promise((resolve) => setTimeout(resolve, 20)); // a bigger model
    return `slow: ${request.text}`;
  }
});

export const Router = serve.deployment(class Router {
  constructor(
    private fast: DeploymentHandle<typeof FastModel>,
    private slow: DeploymentHandle<typeof SlowModel>,
  ) {}

  async call(request: Query): Promise<string> {
    if (request.urgent) return await this.fast.remote(request);
    return await this.slow.remote(request);
  }
});

export const app = Router.bind(FastModel.bind(), SlowModel.bind());

if (import.meta.main) {
  await serve.start({ http: { port: 0 } });
  const handle = await serve.run(app, { routePrefix: null });
  console.log(await handle.remote({ urgent: true, text: "a" })); // fast: a
  console.log(await handle.remote({ urgent: false, text: "b" })); // slow: b
  await serve.shutdown();
}
