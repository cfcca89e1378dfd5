// Deployments for the streaming benchmark (replicas import this module to find them).
import { serve, type DeploymentHandle } from "tsserve";

/** Yields n small integers as fast as it may. */
export const Items = serve.deployment(class Items {
  *call(n: number) {
    for (let i = 0; i < n; i++) yield i;
  }
});

/** Re-yields a downstream stream: worker -> worker -> main. */
export const RelayItems = serve.deployment(class RelayItems {
  constructor(private items: DeploymentHandle<typeof Items>) {}
  async *call(n: number) {
    yield* this.items.options({ stream: true }).remote(n);
  }
});

const CHUNK = "aaaaaaaaaaaaaaaa"; // 16 bytes, like the raw floor's chunks

/** Streams 16-byte chunks over HTTP for `?ms=` milliseconds. */
export const HttpChunks = serve.deployment(class HttpChunks {
  fetch(request: Request) {
    const ms = Number(new URL(request.url).searchParams.get("ms") ?? 1000);
    const end = performance.now() + ms;
    return (function* () {
      while (performance.now() < end) for (let i = 0; i < 64; i++) yield CHUNK;
    })();
  }
});

export const itemsApp = Items.bind();
export const relayApp = RelayItems.bind(Items.bind());
export const httpChunksApp = HttpChunks.bind();
