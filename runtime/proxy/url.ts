/**
 * The path of a request, from its URL alone. Bun builds `request.url` from the `Host` header:
 * without one (HTTP/1.0) or with an unusable one it is only the path (`/-/healthz`), and with
 * `Host: a` it is `http://a/...`. So the proxy routes by the path, and hands the ingress a URL
 * on the listener's own origin: Elysia finds the path at `url.indexOf("/", 11)`, which a host
 * shorter than four characters puts inside the path (`http://a/public/admin` read as `/admin`).
 */

/** Where the path starts in `url` (`url.length` when there is none). */
export function pathStart(url: string): number {
  if (url.charCodeAt(0) === 47 /* / */) return 0;
  const scheme = url.indexOf("//");
  const at = url.indexOf("/", scheme < 0 ? 0 : scheme + 2);
  return at < 0 ? url.length : at;
}

/** A request's path and query, split: `{ path: "/a/b", query: "?x=1" }` (path `/` when empty). */
export function pathAndQuery(url: string): { path: string; query: string } {
  const start = pathStart(url);
  const q = url.indexOf("?", start);
  const path = q < 0 ? url.slice(start) : url.slice(start, q);
  return { path: path || "/", query: q < 0 ? "" : url.slice(q) };
}

/**
 * The URL the ingress sees: the listener's origin, the path under the route prefix, the query.
 * `url` itself when it is that already (the usual case, so nothing is built).
 */
export function ingressUrl(url: string, origin: string, path: string, query: string, prefix: string): string {
  const rest = prefix === "/" ? path : path.slice(prefix.length) || "/";
  if (rest === path && url.length === origin.length + path.length + query.length && url.startsWith(origin)) return url;
  return origin + rest + query;
}
