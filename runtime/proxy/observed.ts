/**
 * The proxy's requests, measured and logged: HTTP metrics and one access log record per
 * request, written when it is answered (for a streamed body, when its head is sent). A
 * wrapper around `proxy.handle`, so the proxy's own code does not change for it.
 */
import { logger } from "../log/logger.ts";
import { passes } from "../log/record.ts";
import { httpFinished, httpStarted } from "../metrics/http.ts";
import { switches } from "../metrics/switch.ts";
import type { Proxy } from "./proxy.ts";

type Timeouts = Parameters<Proxy["handle"]>[1];

export function observedHandle(proxy: Proxy, request: Request, server: Timeouts, url: string): Response | Promise<Response> {
  const counting = switches.counting;
  // Neither metrics nor any access log: nothing to measure.
  if (!counting && !logger.settings.enableAccessLog && !proxy.routes.anyAccessLog) return proxy.handle(request, server, url);
  const t0 = performance.now();
  if (counting) httpStarted();
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
  if (switches.counting) httpFinished(application, prefix, method, res.status, ms);
  if ((route?.accessLog ?? logger.settings.enableAccessLog) && passes("info", logger.settings.logLevel)) {
    const status = res.status;
    const latencyMs = Math.round(ms * 1000) / 1000;
    logger.write({
      time: Date.now(),
      level: "info",
      msg: `${method} ${path} ${status} ${Math.round(ms * 10) / 10}ms`,
      application,
      route: prefix,
      requestId: res.headers.get("x-request-id") ?? undefined,
      method,
      path,
      status,
      latencyMs,
    });
  }
  return res;
}
