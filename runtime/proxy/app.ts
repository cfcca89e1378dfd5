/**
 * The proxy's fetch handler: its own `/-/` routes on an Elysia app, and every other path
 * straight to `proxy.handle` (application traffic skips Elysia's router, which would cost
 * every request for the sake of two routes).
 */
import { Elysia } from "elysia";
import type { FetchHandler } from "../platform/index.ts";
import type { Proxy } from "./proxy.ts";

export function proxyFetch(proxy: Proxy): FetchHandler {
  const app = new Elysia()
    .get("/-/healthz", ({ set }) => {
      if (proxy.routes.size > 0) return "success";
      set.status = 503;
      return "Route table is not populated yet.";
    })
    .get("/-/routes", () => Response.json(proxy.routes.toJSON()))
    .all("/*", ({ request, server }) => proxy.handle(request, server ?? undefined));
  return (req, srv) => {
    const url = req.url;
    return isOwnRoute(url) ? (app.fetch(req) as Promise<Response>) : proxy.handle(req, srv, url);
  };
}

/** `/-/healthz`, `/-/routes` and any other `/-/` path: the proxy's own. */
function isOwnRoute(url: string): boolean {
  const path = url.indexOf("/", url.indexOf("//") + 2);
  return url.charCodeAt(path + 1) === 45 /* - */ && url.charCodeAt(path + 2) === 47 /* / */;
}
