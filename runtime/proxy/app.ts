/**
 * The proxy's fetch handler: its own `/-/` routes on an Elysia app, and every other path
 * straight to `proxy.handle` (application traffic skips Elysia's router, which would cost
 * every request for the sake of two routes).
 */
import { Elysia } from "elysia";
import type { FetchHandler } from "../platform/index.ts";
import type { Proxy } from "./proxy.ts";
import { pathStart } from "./url.ts";
import { isUpgrade, type WebSockets } from "./websocket.ts";
import { observedHandle } from "./observed.ts";

export function proxyFetch(proxy: Proxy, websockets?: WebSockets): FetchHandler {
  const app = new Elysia()
    .get("/-/healthz", ({ set }) => {
      if (proxy.draining) {
        set.status = 503;
        return "Shutting down.";
      }
      if (proxy.routes.size > 0) return "success";
      set.status = 503;
      return "Route table is not populated yet.";
    })
    .get("/-/routes", () => Response.json(proxy.routes.toJSON()))
    .all("/*", ({ request }) => proxy.handle(request));
  return (req, listener) => {
    const url = req.url;
    if (websockets && isUpgrade(req)) return websockets.upgrade(req, listener, url);
    const path = pathStart(url);
    if (!isOwnRoute(url, path)) return observedHandle(proxy, req, listener, url);
    // Elysia reads the path from the URL (see url.ts): give it one on the listener's origin,
    // whatever `Host` the client sent (none, over HTTP/1.0).
    const own = url.startsWith(listener.origin) && path === listener.origin.length ? req : new Request(listener.origin + url.slice(path), req);
    return app.fetch(own) as Promise<Response>;
  };
}

/** `/-/healthz`, `/-/routes` and any other `/-/` path: the proxy's own. */
function isOwnRoute(url: string, path: number): boolean {
  return url.charCodeAt(path + 1) === 45 /* - */ && url.charCodeAt(path + 2) === 47 /* / */;
}
