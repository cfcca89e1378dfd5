/**
 * The proxy's requests, measured and logged: HTTP metrics and one access log record per
 * request, written when it is answered (for a streamed body, when its head is sent). A
 * wrapper around `proxy.handle`, so the proxy's own code does not change for it.
 */
import { logger } from "../log/logger.ts";
import { httpFinished, httpStarted } from "../metrics/http.ts";
import type { Proxy } from "./proxy.ts";

type Timeouts = Parameters<Proxy["handle"]>[1];

export function observedHandle(proxy: Proxy, request: Request, server: Timeouts, url: string): Response | Promise<Response> {
  const t0 = performance.now();
  httpStarted();
  const res = proxy.handle(request, server, url);
  if (res instanceof Promise) return res.then((r) => ended(proxy, request, url, r, t0));
  return ended(proxy, request, url, res, t0);
}

function ended(proxy: Proxy, request: Request, url: string, res: Response, t0: number): Response {
  const ms = performance.now() - t0;
  const { path } = pathAndQuery(url);
  const route = proxy.routes.match(path);
  const application = route?.appName ?? "";
  const prefix = route?.prefix ?? "";
  const method = request.method;
  httpFinished(application, prefix, method, res.status, ms);
  if (route ? (route.accessLog ?? logger.settings.enableAccessLog) : logger.settings.enableAccessLog) {
    logger.log("info", `${method} ${path} ${res.status} ${ms.toFixed(1)}ms`, {
      application,
      route: prefix,
      requestId: res.headers.get("x-request-id") ?? undefined,
      method,
      path,
      status: res.status,
      latencyMs: Math.round(ms * 1000) / 1000,
    });
  }
  return res;
}
