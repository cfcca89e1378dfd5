/**
 * The proxy's requests, measured and logged: HTTP metrics and one access log record per
 * request, written once it has ended (a streamed body: once the stream closes, fails or the
 * client leaves). A wrapper around `proxy.handle`, so the proxy's own code does not change
 * for it. Latency is to the end of the response.
 */
import { logger } from "../log/logger.ts";
import { passes } from "../log/record.ts";
import { httpFinished, httpStarted } from "../metrics/http.ts";
import { switches } from "../metrics/switch.ts";
import type { Proxy } from "./proxy.ts";
import { streamEnds } from "./body.ts";
import { pathAndQuery } from "./url.ts";

type Timeouts = Parameters<Proxy["handle"]>[1];

export function observedHandle(proxy: Proxy, request: Request, server: Timeouts, url: string): Response | Promise<Response> {
  const counting = switches.counting;
  // Neither metrics nor any access log: nothing to measure.
  if (!counting && !logger.settings.enableAccessLog && !proxy.routes.anyAccessLog) return proxy.handle(request, server, url);
  const t0 = performance.now();
  if (counting) httpStarted();
  const res = proxy.handle(request, server, url);
  if (res instanceof Promise) return res.then((r) => answered(proxy, request, url, r, t0));
  return answered(proxy, request, url, res, t0);
}

function answered(proxy: Proxy, request: Request, url: string, res: Response, t0: number): Response {
  const onEnd = streamEnds.get(res);
  if (!onEnd) {
    ended(proxy, request, url, res.status, res.headers, t0);
    return res;
  }
  // Read now: once Bun has sent the head, the Response's headers are no longer readable.
  const requestId = res.headers.get("x-request-id");
  const headers = new Headers(requestId ? { "x-request-id": requestId } : undefined);
  onEnd(() => ended(proxy, request, url, res.status, headers, t0));
  return res;
}

function ended(proxy: Proxy, request: Request, url: string, status: number, headers: Headers, t0: number): void {
  const ms = performance.now() - t0;
  const { path } = pathAndQuery(url);
  const route = proxy.routes.match(path);
  const application = route?.appName ?? "";
  const prefix = route?.prefix ?? "";
  const method = request.method;
  if (switches.counting) httpFinished(application, prefix, method, status, ms);
  if ((route?.accessLog ?? logger.settings.enableAccessLog) && passes("info", logger.settings.logLevel)) {
    const latencyMs = Math.round(ms * 1000) / 1000;
    logger.write({
      time: Date.now(),
      level: "info",
      msg: `${method} ${path} ${status} ${Math.round(ms * 10) / 10}ms`,
      application,
      route: prefix,
      requestId: headers.get("x-request-id") ?? undefined,
      method,
      path,
      status,
      latencyMs,
    });
  }
}
