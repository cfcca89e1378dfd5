// The seed's MyFirstDeployment: a deployment that returns the message bound to its constructor.
//   npx bun examples/my_first_deployment.ts   ->  Hello world!
//   curl http://127.0.0.1:8000/   ->  Hello world!   (served by tsserve run)
import { serve } from "tsserve";

export const MyFirstDeployment = serve.deployment(class MyFirstDeployment {
  // Take the message to return as an argument to the constructor.
  constructor(private msg: string) {}

  call(): string {
    return this.msg;
  }
});

export const app = MyFirstDeployment.bind("Hello world!");

if (import.meta.main) {
  await serve.start({ http: { port: 0 } });
  const handle = await serve.run(app, { routePrefix: null });
  console.log(await handle.remote()); // Hello world!
  await serve.shutdown();
}
