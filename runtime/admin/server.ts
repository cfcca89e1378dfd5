/**
 * The admin REST API: `GET/PUT/DELETE /api/serve/applications/`, on Elysia. Every request
 * must carry `Authorization: Bearer <token>` (401); a browser `Origin` other than the admin's
 * own, or a `Host` that is not a name of the admin (guards.ts), is refused whatever the method
 * (403), so a web page cannot drive it. Testable
 * without a socket: `adminApp(...).handle(new Request(...))`.
 */
import { Elysia } from "elysia";
import type { ServeStatus } from "../../sdk/status.ts";
import { type ApplyMode, type ConfigApplier, prepareConfig, wantedReplicas } from "./apply.ts";
import { type AdminConfig, ConfigError, type HttpConfig, type ServeConfig, validateConfig } from "./schema.ts";
import { sameToken } from "./token.ts";
import { allowedHost } from "./guards.ts";
import { DASHBOARD_ASSETS, DASHBOARD_DATA_PATH } from "./dashboard.ts";
import { logger } from "../log/logger.ts";

export const APPLICATIONS_PATH = "/api/serve/applications/";
/** Names the config in messages (the CLI sends its file name). */
export const CONFIG_NAME_HEADER = "x-tsserve-config-name";

export interface AdminOptions {
  token: string;
  applier: ConfigApplier;
  status(): Promise<ServeStatus>;
  /** Where the instance listens, shown in the deployed config. */
  listening(): { http: HttpConfig; admin: AdminConfig };
  /** Deletes every application and stops the proxy (the instance exits after answering). */
  shutdown(): Promise<void>;
  /** Relative import paths in a PUT are relative to this directory. */
  baseDir: string;
  /** Every thread's metrics, in the Prometheus text format (`GET /metrics`; 404 without). */
  metrics?(): Promise<string>;
  /** What the dashboard polls (`GET /api/dashboard`; 404 without). */
  dashboard?(): Promise<unknown>;
  /** A config's `logging:` section, applied in place. */
  configureLogging?(logging: NonNullable<ServeConfig["logging"]>): void;
}

/** The Prometheus text format's content type. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** What `GET /api/serve/applications/` answers. */
export interface AdminState extends ServeStatus {
  /** The applications configs deployed, as a config; null when none did. */
  config: ServeConfig | null;
  /** Replicas each deployment starts with: `{ app: { deployment: n } }`. */
  targets: Record<string, Record<string, number>>;
  /** Config applies asked for and finished, and the errors of the last one. */
  apply: { requested: number; completed: number; errors: Record<string, string> };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

const error = (status: number, message: string, headers: Record<string, string> = {}) => json(status, { error: message }, headers);

/** The admin app; `origins()` are the origins a browser may send (the admin's own). */
export function adminApp(options: AdminOptions, origins: () => Set<string>): Elysia<any, any, any, any, any, any, any> {
  const { applier } = options;
  const controller = applier.controller;

  const state = async (): Promise<AdminState> => {
    const status = await options.status();
    const apps = applier.applications();
    const targets: AdminState["targets"] = {};
    for (const [name, app] of controller.apps) {
      targets[name] = Object.fromEntries(app.spec.deployments.map((d) => [d.name, wantedReplicas(d)]));
    }
    return {
      ...status,
      config: apps.length ? { ...options.listening(), applications: apps } : null,
      targets,
      apply: { requested: applier.requested, completed: applier.completed, errors: applier.lastErrors },
    };
  };

  /**
   * PUT of a config: "replace" (the collection) makes it the whole set of config applications;
   * "add" (`/api/serve/applications/<name>`, a config of that one application) keeps the others.
   * The answer says what is deleted and what is kept, before it happens.
   */
  const put = async (request: Request, mode: ApplyMode, name?: string): Promise<Response> => {
    const file = request.headers.get(CONFIG_NAME_HEADER) || "request body";
    const text = await request.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      return error(400, `${file}: not valid JSON: ${(err as Error).message}`);
    }
    try {
      const config = validateConfig(body, file);
      if (name !== undefined && (config.applications.length !== 1 || config.applications[0]!.name !== name)) {
        return error(400, `${file}: PUT ${APPLICATIONS_PATH}${name} takes a config of one application named "${name}"; to replace every config application, PUT ${APPLICATIONS_PATH}`);
      }
      const prepared = await prepareConfig(config, file, options.baseDir);
      applier.check(prepared, file, mode);
      const deleted = applier.toDelete(prepared, mode);
      if (config.logging) options.configureLogging?.(config.logging);
      const applications = prepared.apps.map((a) => a.config.name);
      const kept = applier.appNames.filter((n) => !applications.includes(n) && !deleted.includes(n));
      const { generation } = applier.apply(prepared, mode);
      return json(200, { generation, applications, deleted, kept });
    } catch (err) {
      if (err instanceof ConfigError) return error(400, err.message);
      throw err;
    }
  };

  const routes = (path: string) => (app: Elysia) =>
    app
      .get(path, async () => json(200, await state()))
      .put(path, ({ request }) => put(request, "replace"), { parse: "none" })
      .delete(path, async () => {
        await options.shutdown();
        return json(200, { message: "every application was deleted; the instance is shutting down" });
      });

  return new Elysia()
    .onRequest(({ request }) => {
      const host = request.headers.get("host");
      if (!allowedHost(host, origins())) {
        return error(403, `requests for host ${JSON.stringify(host)} are refused: the admin API answers only to its own address, an IP address or localhost (a defence against DNS rebinding); use ${[...origins()][0] ?? "its address"}`);
      }
      // The dashboard's page and assets hold no data: they load without a token, then ask for one.
      if (request.method === "GET") {
        const asset = DASHBOARD_ASSETS[pathOf(request.url)];
        if (asset) return asset();
      }
      const origin = request.headers.get("origin");
      if (origin !== null && !origins().has(origin)) {
        return error(403, `requests from a web page at ${origin} are refused: the admin API takes requests from its own origin and from tools such as the tsserve CLI`);
      }
      const auth = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get("authorization") ?? "");
      if (!auth || !sameToken(auth[1]!, options.token)) {
        return error(
          401,
          `${auth ? "wrong" : "missing"} bearer token: send Authorization: Bearer <token>, the token being TSSERVE_TOKEN or the contents of ~/.tsserve/token on the admin's machine`,
          { "www-authenticate": 'Bearer realm="tsserve"' },
        );
      }
    })
    .get("/metrics", async () =>
      options.metrics ? new Response(await options.metrics(), { headers: { "content-type": METRICS_CONTENT_TYPE } }) : error(404, "this admin API serves no metrics"),
    )
    .get(DASHBOARD_DATA_PATH, async () => (options.dashboard ? json(200, await options.dashboard()) : error(404, "this admin API serves no dashboard data")))
    .use(routes(APPLICATIONS_PATH))
    .use(routes(APPLICATIONS_PATH.slice(0, -1)))
    .put(`${APPLICATIONS_PATH}:name`, ({ request, params }) => put(request, "add", decodeURIComponent(params.name)), { parse: "none" })
    .onError(({ code, error: err }) => {
      if (code === "NOT_FOUND") return error(404, `no such endpoint; the admin API is GET, PUT and DELETE ${APPLICATIONS_PATH}, PUT ${APPLICATIONS_PATH}<name>, GET /metrics and the dashboard at /`);
      logger.error(`admin API: ${(err as Error)?.stack ?? err}`);
      return error(500, `internal error: ${(err as Error)?.message ?? err}`);
    }) as any;
}

const pathOf = (url: string): string => {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  const end = url.indexOf("?", start);
  return start < 0 ? "/" : url.slice(start, end < 0 ? undefined : end);
};
