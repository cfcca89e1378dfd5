/** Deno's HTTP listener: Deno.serve (WebSockets: websocket.ts). */
import type { FetchHandler, HttpServer, ServeOptions } from "../http.ts";
import { denoUpgrade } from "./websocket.ts";

declare const Deno: any;

const plain = (status: number, text: string) => new Response(text, { status, headers: { "content-type": "text/plain; charset=utf-8" } });

/** Past this, stop() closes connections that are still open (Bun's `stop(true)` closes them at once). */
const STOP_WAIT_MS = 1000;

/**
 * Listens on host:port (0 = a free port). Deno.serve has no `maxRequestBodySize`: a body whose
 * Content-Length is too large is refused here with 413 (chunked bodies are counted by the
 * proxy as it reads them). An error escaping `fetch` is a plain 500, never the stack.
 */
export function serveHttp(options: ServeOptions, fetch: FetchHandler): HttpServer {
  const stopping = new AbortController();
  const addresses = new WeakMap<Request, string>();
  // One Listener for every request, as on Bun. Deno has no per-request idle timeout to lift (Bun's
  // `server.timeout`); its WebSockets come from Deno.upgradeWebSocket (websocket.ts).
  const listener = {
    origin: "",
    idleTimeoutSeconds: options.idleTimeoutSeconds ?? 10,
    timeout() {},
    upgrade: denoUpgrade(options.websocket ?? { maxMessageBytes: 16 * 1024 * 1024 }),
    requestIP: (request: Request): { address: string } | null => {
      const address = addresses.get(request);
      return address === undefined ? null : { address };
    },
  };
  const server = Deno.serve(
    {
      hostname: options.host,
      port: options.port,
      reusePort: false,
      signal: stopping.signal,
      onListen() {},
      onError(err: Error) {
        console.error(`[tsserve] HTTP handler failed: ${err?.stack ?? err}`);
        return plain(500, "Internal Server Error");
      },
    },
    (request: Request, info: { remoteAddr?: { hostname?: string } }) => {
      const length = request.headers.get("content-length");
      if (length !== null && Number(length) > options.maxRequestBodySize) return plain(413, "Payload Too Large");
      if (info?.remoteAddr?.hostname !== undefined) addresses.set(request, info.remoteAddr.hostname);
      // An answer made without waiting stays without a promise (the proxy's fast path).
      const out = fetch(request, listener);
      return out instanceof Promise ? out.then((r) => r ?? plain(500, "Internal Server Error")) : (out ?? plain(500, "Internal Server Error"));
    },
  );
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  listener.origin = `http://${host}:${server.addr.port}`;
  return {
    url: listener.origin,
    async stop() {
      // shutdown() waits for every response, including endless streams: bound the wait.
      let timer: ReturnType<typeof setTimeout> | undefined;
      stopping.abort();
      await Promise.race([server.finished, new Promise<void>((r) => (timer = setTimeout(r, STOP_WAIT_MS)))]);
      clearTimeout(timer);
    },
  };
}
