/** Turns what the ingress replica answered into the HTTP response, streamed or whole. */
import type { HttpResponseData } from "../wire/protocol.ts";
import type { OutgoingStream } from "../wire/stream.ts";
import { withRequestId } from "../wire/headers.ts";

const encoder = new TextEncoder();

/** A body chunk as bytes: the replica already made every chunk a string or bytes (replica/http.ts). */
function toBytes(v: unknown): Uint8Array {
  return typeof v === "string" ? encoder.encode(v) : (v as Uint8Array);
}

/**
 * The first bytes of every server-sent event stream: one SSE comment line, which EventSource
 * ignores. Bun.serve (1.4) writes a streamed response's head only with its first body chunk
 * (oven-sh/bun PR 33660), so without it a client would wait for the first event to see the
 * status and headers (EventSource's `onopen`). Other streams cannot be padded without changing
 * their bodies: their head goes with the first chunk.
 */
const OPENED = encoder.encode(":\n\n");

/** Header names are lower case here (they crossed as a Headers object's JSON). */
function isEventStream(headers: HttpResponseData["headers"]): boolean {
  const type = Array.isArray(headers) ? headers.find(([k]) => k.toLowerCase() === "content-type")?.[1] : headers["content-type"];
  return type?.startsWith("text/event-stream") ?? false;
}

/** A whole response, with the request id added. */
export function wholeResponse(head: HttpResponseData, requestId: string): Response {
  return new Response(head.body, { status: head.status, statusText: head.statusText || undefined, headers: withRequestId(head.headers, requestId) });
}

/** Streamed responses, and a callback to run once each ends (closed, failed or cancelled): the access log is written then. */
export const streamEnds = new WeakMap<Response, (then: () => void) => void>();

/**
 * A streamed response: each chunk is read from the replica only when the client's side
 * pulls (so a slow client slows the producer); the replica already made every chunk text
 * or bytes. An error mid-stream breaks the response instead of ending it cleanly.
 */
export function streamedResponse(head: HttpResponseData, requestId: string, stream: OutgoingStream, onError: (err: Error) => void, onEnd?: () => void): Response {
  const headers = withRequestId(head.headers, requestId);
  const eventStream = isEventStream(head.headers);
  let cancelled = false;
  let ended: (() => void) | undefined | null;
  const end = () => {
    if (ended) ended();
    ended = null;
  };
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      // A copy: a chunk handed to a stream is that stream's (Bun may move its buffer).
      if (eventStream) controller.enqueue(OPENED.slice());
    },
    async pull(controller) {
      try {
        // Everything the replica has sent so far leaves as one chunk.
        const batch = await stream.nextBatch();
        // The client left while we waited: the stream is cancelled, nothing more to write.
        if (cancelled) return;
        if (!batch) {
          onEnd?.();
          end();
          return controller.close();
        }
        if (batch.length === 1 || !batch.every((v) => typeof v === "string")) {
          for (const v of batch) controller.enqueue(toBytes(v));
        } else controller.enqueue(encoder.encode((batch as string[]).join("")));
      } catch (err) {
        if (cancelled) return;
        end();
        onError(err as Error);
        controller.error(err);
      }
    },
    cancel() {
      cancelled = true;
      end();
      stream.cancel(true);
    },
  });
  const response = new Response(body, { status: head.status, statusText: head.statusText || undefined, headers });
  // `null`: it ended already; the callback runs at once.
  streamEnds.set(response, (then) => (ended === null ? then() : (ended = then)));
  return response;
}
