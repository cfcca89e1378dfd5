/** Turns what the ingress replica answered into the HTTP response, streamed or whole. */
import type { HttpResponseData } from "../wire/protocol.ts";
import type { OutgoingStream } from "../wire/stream.ts";
import { responseHeaders } from "../wire/headers.ts";

const encoder = new TextEncoder();

/** A whole response, with the request id added. */
export function wholeResponse(head: HttpResponseData, requestId: string): Response {
  return new Response(head.body, { status: head.status, statusText: head.statusText || undefined, headers: responseHeaders(head.headers, requestId) });
}

/**
 * A streamed response: each chunk is read from the replica only when the client's side
 * pulls (so a slow client slows the producer); the replica already made every chunk text
 * or bytes. An error mid-stream breaks the response instead of ending it cleanly.
 */
export function streamedResponse(head: HttpResponseData, requestId: string, stream: OutgoingStream, onError: (err: Error) => void): Response {
  const headers = responseHeaders(head.headers, requestId);
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const r = await stream.next();
        if (r.done) return controller.close();
        const v = r.value;
        if (typeof v === "string") controller.enqueue(encoder.encode(v));
        else if (v instanceof Uint8Array) controller.enqueue(v);
        else if (v instanceof ArrayBuffer) controller.enqueue(new Uint8Array(v));
        else controller.enqueue(encoder.encode(`${JSON.stringify(v)}\n`));
      } catch (err) {
        onError(err as Error);
        controller.error(err);
      }
    },
    cancel() {
      stream.cancel(true);
    },
  });
  return new Response(body, { status: head.status, statusText: head.statusText || undefined, headers });
}
