// The seed's FastAPI example, with Elysia: the app's routes serve HTTP inside the ingress replica.
//   curl http://127.0.0.1:8000/Corey   ->  Hello Corey!
import { Elysia } from "elysia";
import { serve } from "tsserve";

// Defined at module level: every replica builds the same app when it imports this module.
const api = new Elysia().get("/:name", ({ params }) => `Hello ${params.name}!`);

export const ElysiaIngress = serve.deployment(serve.ingress(api), { name: "ElysiaIngress" });

export const app = ElysiaIngress.bind();

if (import.meta.main) {
  const { httpUrl } = await serve.start({ http: { port: 0 } });
  await serve.run(app);
  console.log(await (await fetch(`${httpUrl}/Corey`)).text()); // Hello Corey!
  await serve.shutdown();
}
