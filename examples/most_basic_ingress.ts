// The seed's MostBasicIngress: `call(request)` serves HTTP and reads the name from a JSON body.
//   curl -X POST http://127.0.0.1:8000/ -d '{"name": "Corey"}'   ->  Hello Corey!
import { serve } from "tsserve";

export const MostBasicIngress = serve.deployment(class MostBasicIngress {
  async call(request: Request): Promise<string> {
    const { name } = (await request.json()) as { name: string };
    return `Hello ${name}!`;
  }
});

export const app = MostBasicIngress.bind();

if (import.meta.main) {
  const { httpUrl } = await serve.start({ http: { port: 0 } });
  await serve.run(app);
  const res = await fetch(httpUrl, { method: "POST", body: JSON.stringify({ name: "Corey" }) });
  console.log(await res.text()); // Hello Corey!
  await serve.shutdown();
}
