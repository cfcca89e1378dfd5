/** The HTTP listener: Bun.serve (through Elysia's Bun adapter in the proxy). */
export interface HttpServer {
  readonly url: string;
  stop(): Promise<void>;
}

export type FetchHandler = (request: Request, server: { timeout(request: Request, seconds: number): void }) => Response | Promise<Response>;

/**
 * Listens on host:port (0 = a free port); `reusePort: false` so a second instance cannot share
 * the port silently. An error that escapes `fetch` is logged and answered with a plain 500:
 * Bun's development error page would show the client the stack and the source around it.
 */
export function serveHttp(options: { host: string; port: number; maxRequestBodySize: number }, fetch: FetchHandler): HttpServer {
  const server = Bun.serve({
    hostname: options.host,
    port: options.port,
    reusePort: false,
    development: false,
    maxRequestBodySize: options.maxRequestBodySize,
    fetch: (req, srv) => fetch(req, srv),
    error(err) {
      console.error(`[tsserve] HTTP handler failed: ${err.stack ?? err.message}`);
      return new Response("Internal Server Error", { status: 500, headers: { "content-type": "text/plain; charset=utf-8" } });
    },
  });
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${server.port}`,
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
