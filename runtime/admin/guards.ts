/**
 * Who may talk to the admin API besides the token: a browser page only from the admin's own
 * origin, and only requests sent to the admin under a name it answers to.
 *
 * The `Host` check is the DNS rebinding defence: a page at `evil.example` whose name is made
 * to resolve to 127.0.0.1 reaches the admin with `Host: evil.example` (and no `Origin` on a
 * simple GET). Rebinding needs a name the attacker controls, so an IP literal, `localhost`, or
 * the host the admin was told to listen on is accepted, and any other name refused. A request
 * without `Host` (HTTP/1.0) cannot come from a browser and is let through to the token check.
 */
import { isIP } from "node:net";

const LOOPBACK = ["127.0.0.1", "localhost", "[::1]"];

/** The origins of an admin listening at `url`: itself, and its loopback aliases when it is on loopback. */
export function ownOrigins(url: string): Set<string> {
  const u = new URL(url);
  const out = new Set([u.origin]);
  if (LOOPBACK.includes(u.hostname)) {
    for (const h of LOOPBACK) out.add(`${u.protocol}//${h}:${u.port}`);
  }
  return out;
}

/** True when a request with this `Host` header may reach an admin whose own origins are `origins`. */
export function allowedHost(host: string | null, origins: Set<string>): boolean {
  if (!host) return true;
  let name: string;
  try {
    name = new URL(`http://${host}`).hostname;
  } catch {
    return false;
  }
  if (name === "localhost" || isIP(name.replace(/^\[|\]$/g, "")) !== 0) return true;
  for (const o of origins) if (new URL(o).hostname === name) return true;
  return false;
}
