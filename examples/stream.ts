// The seed's stream.py: a Streamer yields range(limit); a Caller re-yields it with `for await`.
//   npx bun examples/stream.ts   ->  [0, 1, ..., 9]
import { serve, type DeploymentHandle } from "tsserve";

export const Streamer = serve.deployment(class Streamer {
  *call(limit: number): Generator<number> {
    for (let i = 0; i < limit; i++) yield i;
  }
});

export const Caller = serve.deployment(class Caller {
  private streamer: DeploymentHandle<typeof Streamer, true>;
  constructor(streamer: DeploymentHandle<typeof Streamer>) {
    // Must set stream: true on the handle; then each call returns a response generator.
    this.streamer = streamer.options({ stream: true });
  }

  async *call(limit: number): AsyncGenerator<number> {
    for await (const i of this.streamer.remote(limit)) yield i;
  }
});

export const app = Caller.bind(Streamer.bind());

if (import.meta.main) {
  await serve.start({ http: { port: 0 } });
  const handle = (await serve.run(app, { routePrefix: null })).options({ stream: true });
  const got: number[] = [];
  for await (const i of handle.remote(10)) got.push(i);
  console.log(got); // [0, 1, ..., 9]
  await serve.shutdown();
}
