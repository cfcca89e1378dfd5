/** The app `tsserve init` writes: the same text as examples/greeting_api.ts (a test keeps them equal). */
export const APP = `// A typed Elysia app that calls a downstream deployment (what \`tsserve init\` writes as app.ts).
//   curl http://127.0.0.1:8000/hello/Dora   ->  Hello, Dora!
// Serve it with \`tsserve run app.ts\` (from a checkout: \`npx bun cmd/tsserve.ts run examples/greeting_api.ts\`).
import { Elysia } from "elysia";
import { serve, type DeploymentHandle } from "tsserve";

/** The downstream deployment: two replicas, called through a typed handle. */
export const Greeter = serve.deployment(
  class Greeter {
    constructor(private greeting: string) {}
    greet(name: string): string {
      return \`\${this.greeting}, \${name}!\`;
    }
  },
  { numReplicas: 2 },
);

/**
 * The HTTP ingress: an Elysia app made by a builder, once in each replica. The builder's
 * parameters are the deployment's constructor's, so \`Api.bind(Greeter.bind("Hello"))\` below is
 * type-checked, and so is every \`greeter.greet.remote(...)\`.
 */
export const Api = serve.deployment(
  serve.ingress((greeter: DeploymentHandle<typeof Greeter>) =>
    new Elysia()
      .get("/hello/:name", async ({ params }) => await greeter.greet.remote(params.name))
      .get("/count/:n", async function* ({ params }) {
        for (let i = 1; i <= Number(params.n); i++) yield \`\${i}\\n\`;
      }),
  ),
  { name: "Api" },
);

export const app = Api.bind(Greeter.bind("Hello"));
`;
