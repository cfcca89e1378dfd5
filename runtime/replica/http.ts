/**
 * HTTP inside the ingress replica: the proxy's request data becomes a web `Request`, and what
 * user code returns becomes response data (status, headers, body), converted here so the
 * proxy's thread only copies bytes.
 */
import type { HttpRequestData, HttpResponseData } from "../wire/protocol.ts";
import { type HeaderData, responseHeaderData } from "../wire/headers.ts";

export function toRequest(data: HttpRequestData, signal: AbortSignal): Request {
  const init: RequestInit = { method: data.method, headers: data.headers, signal };
  if (data.body && data.method !== "GET" && data.method !== "HEAD") init.body = data.body;
  return new Request(data.url, init);
}

const TEXT = "text/plain; charset=utf-8";
const JSON_TYPE = "application/json";
const MSGPACK = "application/msgpack";

function response(status: number, headers: HeaderData, body: HttpResponseData["body"], streamed = false): HttpResponseData {
  return streamed ? { status, headers, body, streamed } : { status, headers, body };
}

/** The iterator of an (async) iterable: async first, as `for await` does. */
export function iteratorOf(value: Iterable<unknown> | AsyncIterable<unknown>): Iterator<unknown> | AsyncIterator<unknown> {
  return Symbol.asyncIterator in value ? value[Symbol.asyncIterator]() : value[Symbol.iterator]();
}

/** Is `value` something to stream (an iterator, async or not, but not an array or string)? */
function isStreamable(value: unknown): value is Iterable<unknown> | AsyncIterable<unknown> {
  if (value === null || typeof value !== "object") return false;
  if (Array.isArray(value) || ArrayBuffer.isView(value)) return false;
  return typeof (value as any)[Symbol.asyncIterator] === "function" || (typeof (value as any)[Symbol.iterator] === "function" && typeof (value as any).next === "function");
}

/** A streamed HTTP answer: the head, then the chunks of `stream`. */
export class StreamedHttp {
  constructor(
    readonly head: HttpResponseData,
    readonly stream: AsyncIterator<unknown> | Iterator<unknown>,
  ) {}
}

/**
 * Converts a method's return value to response data; a streamed result comes back as
 * `StreamedHttp`, with the iterator to pump (chunks are strings or bytes). Most answers (a
 * string, bytes, null, JSON) need no waiting and come back without a promise.
 */
export function toResponseData(value: unknown, accept: string | undefined): HttpResponseData | StreamedHttp | Promise<HttpResponseData | StreamedHttp> {
  if (typeof value === "string") return response(200, { "content-type": TEXT }, value);
  if (value === null || value === undefined) return response(200, {}, null);
  if (value instanceof ArrayBuffer) return response(200, { "content-type": "application/octet-stream" }, value);
  if (value instanceof Uint8Array) return response(200, { "content-type": "application/octet-stream" }, value.slice().buffer as ArrayBuffer);
  if (value instanceof Response) return fromResponse(value);
  if (isStreamable(value)) return fromIterator(value);
  if (accept?.includes(MSGPACK)) return msgpackData(value);
  return response(200, { "content-type": JSON_TYPE }, JSON.stringify(value));
}

async function msgpackData(value: unknown): Promise<HttpResponseData> {
  // Loaded on first use: most replicas never answer MessagePack.
  const { encodeMsgpack } = await import("./msgpack.ts");
  const bytes = encodeMsgpack(value);
  return response(200, { "content-type": MSGPACK }, bytes.slice().buffer as ArrayBuffer);
}

/**
 * A generator's items as response chunks: strings as text, bytes as bytes, anything else
 * as JSON lines. The first item is read before the head goes, to pick the content type; that
 * costs the client nothing, as Bun.serve holds such a head until the first chunk anyway (only an
 * event stream's can go sooner: proxy/body.ts).
 */
async function fromIterator(value: Iterable<unknown> | AsyncIterable<unknown>): Promise<StreamedHttp> {
  const it = iteratorOf(value);
  const first = await it.next();
  const v = first.value;
  const type = first.done || typeof v === "string" ? TEXT : v instanceof Uint8Array || v instanceof ArrayBuffer ? "application/octet-stream" : "application/x-ndjson";
  async function* chunks() {
    try {
      if (first.done) return;
      yield chunk(first.value);
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        yield chunk(r.value);
      }
    } finally {
      await it.return?.();
    }
  }
  return new StreamedHttp(response(200, { "content-type": type }, null, true), chunks());
}

function chunk(v: unknown): string | Uint8Array {
  if (typeof v === "string" || v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  return `${JSON.stringify(v)}\n`;
}

const PENDING = Symbol("pending");

/**
 * A Response's body is sent whole when it is all there already (a string, bytes, a finished
 * stream), and streamed when reading it has to wait: then the chunks so far go first.
 */
async function fromResponse(res: Response): Promise<HttpResponseData | StreamedHttp> {
  const headers = responseHeaderData(res.headers);
  const head = (body: HttpResponseData["body"], streamed = false) => {
    const h = response(res.status, headers, body, streamed);
    if (res.statusText) h.statusText = res.statusText;
    return h;
  };
  if (!res.body) return head(null);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  const eventStream = (res.headers.get("content-type") ?? "").includes("text/event-stream");
  for (;;) {
    const read = reader.read();
    const r = eventStream ? PENDING : await Promise.race([read, new Promise<typeof PENDING>((ok) => setImmediate(() => ok(PENDING)))]);
    if (r === PENDING) return new StreamedHttp(head(null, true), rest(chunks, read, reader));
    if (r.done) return head(wholeBody(concat(chunks), res.headers.has("content-type") ? undefined : headers));
    chunks.push(bytesOf(r.value));
  }
}

const encoder = new TextEncoder();

/** A body chunk as bytes: a stream may hold strings too (Elysia's generator routes enqueue strings). */
function bytesOf(chunk: unknown): Uint8Array {
  return typeof chunk === "string" ? encoder.encode(chunk) : (chunk as Uint8Array);
}

/** ignoreBOM: a leading BOM stays in the text, so text and bytes are the same body. */
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
/** Bodies up to this size that are UTF-8 travel as text (see wholeBody). */
const TEXT_MAX = 64 * 1024;

function utf8Text(body: ArrayBuffer): string | undefined {
  try {
    return utf8.decode(body);
  } catch {
    return undefined;
  }
}

/**
 * A whole Response body as it travels to the proxy: small UTF-8 bodies as text, since a text
 * answer goes in the JSON batch that plain answers use, where bytes need a structured clone
 * (Elysia's string routes are nearly all answers of this kind). Text or bytes, the client gets
 * the same bytes.
 *
 * `untyped`, the headers of a Response without content-type, gets the type Bun.serve would have
 * sent: it gives a string body `text/plain;charset=utf-8` without showing it in `res.headers`
 * (Elysia's string routes rely on that), and bytes `application/octet-stream`. Once read, a body
 * cannot tell which it was, so a body that decodes as UTF-8 counts as a string; without this
 * the proxy, which sends what it got, would make every such answer a download.
 */
function wholeBody(body: ArrayBuffer, untyped: HeaderData | undefined): ArrayBuffer | string {
  const text = untyped || body.byteLength <= TEXT_MAX ? utf8Text(body) : undefined;
  if (untyped) {
    const type = text === undefined ? "application/octet-stream" : "text/plain;charset=utf-8";
    if (Array.isArray(untyped)) untyped.push(["content-type", type]);
    else untyped["content-type"] = type;
  }
  return text !== undefined && body.byteLength <= TEXT_MAX ? text : body;
}

async function* rest(first: Uint8Array[], pending: Promise<{ done: boolean; value?: Uint8Array }>, reader: { read(): Promise<{ done: boolean; value?: Uint8Array }>; cancel(): Promise<void> }) {
  try {
    yield* first;
    let r = await pending;
    while (!r.done) {
      yield r.value!;
      r = await reader.read();
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

function concat(chunks: Uint8Array[]): ArrayBuffer {
  if (chunks.length === 1 && chunks[0]!.byteOffset === 0 && chunks[0]!.byteLength === chunks[0]!.buffer.byteLength) return chunks[0]!.buffer as ArrayBuffer;
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out.buffer;
}
