// The seed's TokenStreamer: an ingress that streams generated tokens to an HTTP client as
// server-sent events.
//   curl -N -X POST http://127.0.0.1:8000/ -d '{"prompt": "hello streaming world"}'
import { serve } from "tsserve";

async function* generate(prompt: string): AsyncGenerator<string> {
  for (const token of prompt.split(/\s+/).filter(Boolean)) {
    await new Promise((r) => setTimeout(r, 5)); // a model takes a moment per token
    yield token;
  }
}

export const TokenStreamer = serve.deployment(class TokenStreamer {
  async *stream(prompt: string): AsyncGenerator<string> {
    for await (const token of generate(prompt)) yield `data: ${token}\n\n`;
  }

  async call(request: Request): Promise<Response> {
    const { prompt } = (await request.json()) as { prompt: string };
    const tokens = this.stream(prompt);
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const { done, value } = await tokens.next();
        if (done) controller.close();
        else controller.enqueue(encoder.encode(value));
      },
      async cancel() {
        await tokens.return(undefined);
      },
    });
    return new Response(body, { headers: { "content-type": "text/event-stream" } });
  }
});

export const app = TokenStreamer.bind();
