/**
 * The admin side of tsserve: the config schema, applying configs, and the authenticated
 * admin REST API that `tsserve deploy/status/config/shutdown` talk to.
 */
import { ServeError } from "../../sdk/errors.ts";
import { type HttpServer, listenError, serveHttp } from "../platform/index.ts";
import { type AdminOptions, adminApp } from "./server.ts";
import { ownOrigins } from "./guards.ts";
import { pathStart } from "../proxy/url.ts";

export { ConfigApplier, prepareConfig, wantedReplicas, withOverrides, type Prepared, type PreparedApp, type ApplyResult, type ApplyMode } from "./apply.ts";
export { importApp, absoluteImportPath, ImportError, type ImportedApp } from "./import.ts";
export { ownOrigins, allowedHost } from "./guards.ts";
export { adminApp, APPLICATIONS_PATH, CONFIG_NAME_HEADER, METRICS_CONTENT_TYPE, type AdminOptions, type AdminState } from "./server.ts";
export { dashboardData, DASHBOARD_DATA_PATH, type DashboardData } from "./dashboard.ts";
export * from "./schema.ts";
export { readToken, serverToken, tokenFile } from "./token.ts";
export { importErrorText, located } from "./source-error.ts";
export { yamlErrorPosition } from "./yaml-position.ts";

export const DEFAULT_ADMIN = { host: "127.0.0.1", port: 8265 };

/** A config is small: refuse bodies over 10 MiB. */
const MAX_BODY = 10 * 1024 * 1024;

/** Serves the admin API on host:port (0 = a free port). */
export function startAdmin(address: { host: string; port: number }, options: AdminOptions): HttpServer {
  let origins = new Set<string>();
  const app = adminApp(options, () => origins);
  let server: HttpServer;
  try {
    server = serveHttp({ host: address.host, port: address.port, maxRequestBodySize: MAX_BODY }, (req, listener) =>
      // Elysia reads the path from the URL, which Bun builds from `Host` (none over HTTP/1.0):
      // route on the listener's own origin instead.
      app.handle(req.url.startsWith(listener.origin) ? req : new Request(listener.origin + req.url.slice(pathStart(req.url)), req)) as Promise<Response>,
    );
  } catch (err) {
    throw new ServeError(`admin API: ${listenError(err, address.host, address.port, { port: "--admin-port", host: "--admin-host" })}`);
  }
  origins = ownOrigins(server.url);
  return server;
}
