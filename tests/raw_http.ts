/**
 * A raw HTTP/1.x client over one TCP socket, for what `fetch` cannot send: no `Host` header,
 * an empty or odd one, HTTP/1.0, bytes outside ASCII in a header, several requests in one write.
 * Every wait is bounded.
 */
import { connect, type Socket } from "node:net";

export interface RawResponse {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: string;
}

export class RawClient implements Disposable {
  readonly #socket: Socket;
  #buffer = Buffer.alloc(0);
  #closed = false;
  #wake: (() => void) | undefined;
  readonly #connected: Promise<void>;

  constructor(url: string) {
    const { hostname, port } = new URL(url);
    this.#socket = connect({ host: hostname, port: Number(port) });
    this.#connected = new Promise((ok, fail) => {
      this.#socket.once("connect", ok);
      this.#socket.once("error", fail);
      this.#socket.once("close", () => fail(new Error("connection closed before it was open")));
    });
    this.#socket.on("data", (chunk) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk as Buffer]);
      this.#wake?.();
    });
    this.#socket.on("close", () => {
      this.#closed = true;
      this.#wake?.();
    });
    this.#socket.on("error", () => {});
  }

  /** True once the server closed the connection (after the buffered answers). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Writes raw bytes (one or several requests). */
  async send(text: string | Uint8Array): Promise<void> {
    await this.#connected;
    this.#socket.write(text);
  }

  /** Sends one request and reads its answer. */
  async request(text: string | Uint8Array, timeoutMs = 10_000): Promise<RawResponse> {
    await this.send(text);
    return this.read(timeoutMs);
  }

  /** The next answer on the connection; rejects when the connection closes first or after `timeoutMs`. */
  async read(timeoutMs = 10_000): Promise<RawResponse> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const parsed = this.#parse();
      if (parsed) return parsed;
      if (this.#closed) throw new Error(`connection closed before a complete answer; got ${JSON.stringify(this.#buffer.toString("latin1"))}`);
      const left = end - Date.now();
      if (left <= 0) throw new Error(`no complete answer within ${timeoutMs} ms; got ${JSON.stringify(this.#buffer.toString("latin1"))}`);
      await new Promise<void>((ok) => {
        const timer = setTimeout(ok, left);
        this.#wake = () => {
          clearTimeout(timer);
          ok();
        };
      });
    }
  }

  /** Resolves true once the server closes the connection, false if it stays open `timeoutMs`. */
  async closes(timeoutMs: number): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    while (!this.#closed && Date.now() < end) {
      await new Promise<void>((ok) => {
        const timer = setTimeout(ok, end - Date.now());
        this.#wake = () => {
          clearTimeout(timer);
          ok();
        };
      });
    }
    return this.#closed;
  }

  /** Everything received and not parsed yet. */
  get unread(): string {
    return this.#buffer.toString("latin1");
  }

  #parse(): RawResponse | undefined {
    const headEnd = this.#buffer.indexOf("\r\n\r\n");
    if (headEnd < 0) return undefined;
    const [statusLine, ...lines] = this.#buffer.subarray(0, headEnd).toString("latin1").split("\r\n");
    const headers: Record<string, string> = {};
    for (const l of lines) {
      const i = l.indexOf(":");
      headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine!)?.[1]);
    const start = headEnd + 4;
    let body: Buffer;
    let used: number;
    if (headers["transfer-encoding"]?.includes("chunked")) {
      const chunks: Buffer[] = [];
      let at = start;
      for (;;) {
        const lineEnd = this.#buffer.indexOf("\r\n", at);
        if (lineEnd < 0) return undefined;
        const size = parseInt(this.#buffer.subarray(at, lineEnd).toString("latin1"), 16);
        if (this.#buffer.length < lineEnd + 2 + size + 2) return undefined;
        chunks.push(this.#buffer.subarray(lineEnd + 2, lineEnd + 2 + size));
        at = lineEnd + 2 + size + 2;
        if (size === 0) break;
      }
      body = Buffer.concat(chunks);
      used = at;
    } else if (headers["content-length"] !== undefined) {
      const length = Number(headers["content-length"]);
      if (this.#buffer.length < start + length) return undefined;
      body = this.#buffer.subarray(start, start + length);
      used = start + length;
    } else {
      // No length: the body runs to the end of the connection.
      if (!this.#closed) return undefined;
      body = this.#buffer.subarray(start);
      used = this.#buffer.length;
    }
    const out = { status, headers, body: body.toString("utf8") };
    this.#buffer = this.#buffer.subarray(used);
    return out;
  }

  [Symbol.dispose](): void {
    this.#socket.destroy();
  }
}

/** One request on a fresh connection (HTTP/1.0 style: the server may close after it). */
export async function rawRequest(url: string, text: string | Uint8Array, timeoutMs = 10_000): Promise<RawResponse> {
  using c = new RawClient(url);
  return await c.request(text, timeoutMs);
}
