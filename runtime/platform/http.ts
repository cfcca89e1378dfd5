/** Bun's HTTP listener: Bun.serve (through Elysia's Bun adapter in the proxy). Its types are the platform's (deno/http.ts implements them too). */
import { bunWebSocketHandler, type SocketLimits, type Upgrading } from "./websocket.ts";

export interface HttpServer {
  readonly url: string;
  stop(): Promise<void>;
}

/** What a fetch handler may ask of the listener that received the request (and, for WebSockets, websocket.ts's `Upgrading`). */
export interface Listener extends Upgrading {
  /** `http://host:port` as the listener sees itself: the URL base handlers build on, whatever `Host` said. */
  readonly origin: string;
  /** Bun drops a connection silent for this long, even while its response is being made. */
  readonly idleTimeoutSeconds: number;
  /** Sets one request's idle timeout (0: none). */
  timeout(request: Request, seconds: number): void;
}

/** Undefined: the listener took the connection (a WebSocket upgrade). */
export type FetchHandler = (request: Request, listener: Listener) => Response | undefined | Promise<Response | undefined>;

/** Bun's own default, kept: an idle keep-alive connection is closed after 10 s. */
export const DEFAULT_IDLE_TIMEOUT_SECONDS = 10;

export interface ServeOptions {
  host: string;
  port: number;
  maxRequestBodySize: number;
  /** Whole seconds, 1 to 255 (Bun's range; Bun checks it about every 4 s). Tests shorten it. */
  idleTimeoutSeconds?: number;
  /** WebSocket limits (default: 16 MiB messages). */
  websocket?: SocketLimits;
}

/**
 * Listens on host:port (0 = a free port); `reusePort: false` so a second instance cannot share
 * the port silently. An error that escapes `fetch` is logged and answered with a plain 500:
 * Bun's development error page would show the client the stack and the source around it.
 */
export function serveHttp(options: ServeOptions, fetch: FetchHandler): HttpServer {
  const idleTimeoutSeconds = options.idleTimeoutSeconds ?? DEFAULT_IDLE_TIMEOUT_SECONDS;
  // One Listener for every request (no object per request); filled in once Bun has the port.
  const listener = {
    origin: "",
    idleTimeoutSeconds,
    timeout: (request: Request, seconds: number) => server.timeout(request, seconds),
    upgrade: (request: Request, opts: Parameters<NonNullable<Upgrading["upgrade"]>>[1]): boolean => server.upgrade(request, opts),
    requestIP: (request: Request): { address: string } | null => server.requestIP(request),
  };
  const server = Bun.serve({
    hostname: options.host,
    port: options.port,
    reusePort: false,
    development: false,
    idleTimeout: idleTimeoutSeconds,
    maxRequestBodySize: options.maxRequestBodySize,
    fetch: (req): Response | Promise<Response> => fetch(req, listener) as Response | Promise<Response>,
    websocket: bunWebSocketHandler(options.websocket ?? { maxMessageBytes: 16 * 1024 * 1024 }),
    error(err) {
      console.error(`[tsserve] HTTP handler failed: ${err.stack ?? err.message}`);
      return new Response("Internal Server Error", { status: 500, headers: { "content-type": "text/plain; charset=utf-8" } });
    },
  });
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  listener.origin = `http://${host}:${server.port}`;
  return {
    url: listener.origin,
    async stop() {
      await server.stop(true);
    },
  };
}

/**
 * Why listening on host:port failed, in one sentence with its fix (Bun's own message is a
 * question, "Is port N in use?", that the error code already answers). `flags` name how the
 * caller sets the port and the host.
 */
export function listenError(err: unknown, host: string, port: number, flags: { port: string; host: string }): string {
  const e = err as { code?: string; message?: string } | undefined;
  if (e?.code === "EADDRINUSE") return `port ${port} on ${host} is already in use (another tsserve?); pick another with ${flags.port} (0 picks a free one)`;
  if (e?.code === "EADDRNOTAVAIL") return `${host} is not an address of this machine; pick another with ${flags.host} (127.0.0.1, or 0.0.0.0 for every address)`;
  if (e?.code === "EACCES") return `port ${port} on ${host} needs privileges this process does not have (ports below 1024 usually do); pick another with ${flags.port}`;
  return `cannot listen on ${host}:${port}: ${e?.message ?? String(err)}`;
}
