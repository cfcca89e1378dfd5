/** The proxy as an Elysia app: its own routes, then every other path to an application. */
import { Elysia } from "elysia";
import type { Proxy } from "./proxy.ts";

export function proxyApp(proxy: Proxy): Elysia<any, any, any, any, any, any, any> {
  return new Elysia()
    .get("/-/healthz", ({ set }) => {
      if (proxy.routes.size > 0) return "success";
      set.status = 503;
      return "Route table is not populated yet.";
    })
    .get("/-/routes", () => Response.json(proxy.routes.toJSON()))
    .all("/*", ({ request, server }) => proxy.handle(request, server ?? undefined)) as any;
}
