/** Route prefixes: the one check, shared by `serve.run`, the proxy and the config. */

/** Throws a TypeError naming what is wrong with `prefix`, or returns it. */
export function checkRoutePrefix(prefix: unknown): string | null {
  if (prefix === null) return null;
  if (typeof prefix !== "string") throw new TypeError(`routePrefix must be a string starting with "/" or null, got ${typeof prefix}`);
  if (!prefix.startsWith("/")) throw new TypeError(`routePrefix must start with "/", got "${prefix}"`);
  if (prefix.length > 1 && prefix.endsWith("/")) {
    throw new TypeError(`routePrefix must not end with "/" (except "/" itself), got "${prefix}"; use "${prefix.replace(/\/+$/, "") || "/"}"`);
  }
  if (/[{}]/.test(prefix)) throw new TypeError(`routePrefix must not contain "{" or "}", got "${prefix}"`);
  if (/\s|\/\//.test(prefix)) throw new TypeError(`routePrefix must not contain spaces or "//", got "${prefix}"`);
  return prefix;
}

/** True when `path` falls under `prefix`: `/a` matches `/a`, `/a/` and `/a/x`, not `/ab`. */
export function matchesPrefix(path: string, prefix: string): boolean {
  if (prefix === "/") return true;
  return path === prefix || (path.startsWith(prefix) && path.charCodeAt(prefix.length) === 47 /* / */);
}
