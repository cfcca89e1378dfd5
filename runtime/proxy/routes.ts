/** The proxy's route table: route prefix -> application, longest prefix first. */
import { matchesPrefix } from "../../sdk/routes.ts";

/** A route prefix and the app's ingress deployment, which is also the target the proxy calls. */
export interface Route {
  prefix: string;
  appName: string;
  /** The ingress deployment. */
  deploymentName: string;
  /** The ingress's loggingConfig.enableAccessLog, when it sets one. */
  accessLog?: boolean;
}

export class RouteTable {
  #routes: Route[] = [];

  /** Whether some route turns its access log on by itself (its ingress's loggingConfig). */
  anyAccessLog = false;

  /** Replaces the table (longest prefixes are tried first). */
  set(routes: Route[]): void {
    this.#routes = [...routes].sort((a, b) => b.prefix.length - a.prefix.length);
    this.anyAccessLog = routes.some((r) => r.accessLog === true);
  }

  match(path: string): Route | undefined {
    for (const r of this.#routes) if (matchesPrefix(path, r.prefix)) return r;
    return undefined;
  }

  get size(): number {
    return this.#routes.length;
  }

  /** `{ "<prefix>": "<app>" }`, as `/-/routes` shows it. */
  toJSON(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const r of [...this.#routes].sort((a, b) => a.prefix.localeCompare(b.prefix))) out[r.prefix] = r.appName;
    return out;
  }
}
