/** `tsserve run`: import, deploy, serve, block; Ctrl-C or SIGTERM drains and exits 0. */
import { readFileSync } from "node:fs";
import { ConfigError, type Prepared, splitImportPath } from "../runtime/admin/index.ts";
import { logFormatArg, parse, portArg } from "./args.ts";
import { Instance } from "./instance.ts";
import { bold, cyan, dim, err, out, UsageError } from "./output.ts";
import { prepareSource, readTarget, type Source } from "./source.ts";
import { version } from "./version.ts";
import { FileWatcher } from "./watch.ts";

export const summary = "import a file (or a config), deploy it and serve it over HTTP, until Ctrl-C";

export const help = `Usage: tsserve run <file.ts[:export] | config.yaml> [key=value ...] [options]

Imports the file, deploys the application, shows progress until every replica runs, prints
the URL, then serves until Ctrl-C or SIGTERM, which drain in-flight requests and exit 0.

The export is "app" by default, else the default export. It is an Application
(Deployment.bind(...)) or a builder function (args) => Application, which receives the
key=value arguments as { key: "value" }. A .yaml, .yml or .json file is a config
(see docs/config.md) and may hold several applications.

Options:
  --host <host>          HTTP host (default 127.0.0.1, or the config's http.host)
  --port <port>          HTTP port (default 8000, or the config's http.port; 0 picks a free port)
  --name <name>          application name (default "default")
  --route-prefix <path>  route prefix (default "/"; "none" serves the app only through handles)
  --reload               watch the application's files and redeploy when they change
  --admin-host <host>    admin API host (default 127.0.0.1, or the config's admin.host)
  --admin-port <port>    admin API port (default 8265; 0 picks a free port); if it is taken,
                         run stops with an error (so status and shutdown never reach
                         another instance)
  --log-format <fmt>     text (default): one line per log record; json: one JSON object per
                         line (also TSSERVE_LOG_FORMAT=json, or logging: { encoding: JSON })
  -h, --help             show this help`;

export async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parse("run", argv, {
    host: { type: "string" },
    port: { type: "string" },
    name: { type: "string" },
    "route-prefix": { type: "string" },
    reload: { type: "boolean" },
    "admin-host": { type: "string" },
    "admin-port": { type: "string" },
    "log-format": { type: "string" },
  });
  if (values.help) return out(help);
  const [target, ...rest] = positionals;
  if (!target) throw new UsageError("tsserve run: give a file.ts[:export] or a config.yaml to run");
  const port = portArg(values.port, "--port");
  const adminPort = portArg(values["admin-port"], "--admin-port");

  let source = readTarget("run", target, values, rest);
  out(`${bold(`tsserve ${version}`)}: importing ${describeSource(source)}`);
  const prepared = await prepareSource(source);
  const http = { ...source.config.http };
  if (values.host !== undefined) http.host = values.host;
  if (port !== undefined) http.port = port;
  const admin = { ...source.config.admin };
  if (values["admin-host"] !== undefined) admin.host = values["admin-host"];
  if (adminPort !== undefined) admin.port = adminPort;

  const logging = { ...source.config.logging, ...logFormatArg(values["log-format"]) };
  const instance = await Instance.start({ http, admin, logging });
  try {
    instance.applier.check(prepared, source.label);
  } catch (e) {
    if (e instanceof ConfigError) await fail(instance, e.message);
    throw e;
  }
  const errors = await instance.deploy(prepared);
  if (Object.keys(errors).length) {
    await fail(instance, Object.entries(errors).map(([app, message]) => `application "${app}" failed to deploy: ${message}`).join("\n"));
  }
  printServing(instance, prepared);

  if (values.reload) {
    let current = prepared;
    let busy = false;
    let again = false;
    const watcher = new FileWatcher(async () => {
      if (busy) return void (again = true);
      busy = true;
      do {
        again = false;
        out(cyan("Files changed: redeploying..."));
        try {
          if (source.configFile) source = readTarget("run", target, values, rest);
          const next = await prepareSource(source);
          instance.applier.check(next, source.label);
          const failed = await instance.deploy(next);
          for (const [app, message] of Object.entries(failed)) err(`tsserve: error: application "${app}" failed to deploy: ${message}`);
          if (!Object.keys(failed).length) out(cyan("Redeployed."));
          current = next;
        } catch (e) {
          err(`tsserve: error: ${(e as Error).message}`);
          out(dim("Still serving what was deployed before; fix the error and save again."));
        }
        watcher.watch(watchedFiles(current, source));
      } while (again);
      busy = false;
    });
    watcher.watch(watchedFiles(current, source));
    out(dim(`Watching ${watchedFiles(current, source).length} files for changes.`));
  }
  await instance.block();
}

async function fail(instance: Instance, message: string): Promise<never> {
  err(`tsserve: error: ${message}`);
  return instance.stop(1);
}

function describeSource(source: Source): string {
  if (source.configFile) return `the config ${source.label}`;
  return source.label;
}

function watchedFiles(prepared: Prepared, source: Source): string[] {
  const files = new Set(prepared.apps.flatMap((a) => a.files));
  if (source.configFile) files.add(source.configFile);
  return [...files];
}

function printServing(instance: Instance, prepared: Prepared): void {
  for (const app of prepared.apps) {
    const prefix = app.config.routePrefix;
    if (prefix === null) {
      out(`Application "${app.config.name}" is ${bold("RUNNING")} (no route prefix: reach it with serve.getAppHandle("${app.config.name}")).`);
      continue;
    }
    const url = instance.httpUrl + prefix;
    out(`Application "${app.config.name}" is ${bold("RUNNING")} at ${bold(url)}`);
    const hint = curlHint(splitImportPath(app.config.importPath).file, url);
    if (hint) out(`  ${hint}`);
  }
  if (instance.admin) out(dim(`Admin API at ${instance.admin.url}${instance.tokenFile ? ` (token in ${instance.tokenFile})` : " (token from TSSERVE_TOKEN)"}`));
  if (instance.dashboardUrl) out(dim(`Dashboard at ${instance.dashboardUrl}`));
  out(dim("Press Ctrl-C to stop."));
}

/**
 * A curl line to try the app: the first `curl ...` line in the module's header comment, written
 * for the app served at "/", pointed at where it runs (origin and route prefix). A module whose
 * header has no curl line but a `bun <file>` line is a script that calls its app through
 * handles: no line (a plain GET would only answer 500). Any other module: a plain GET.
 */
export function curlHint(file: string, url: string): string | undefined {
  let head = "";
  try {
    head = readFileSync(file, "utf8").split("\n").slice(0, 30).join("\n");
  } catch {
    // Unreadable now: fall back to the plain line.
  }
  const m = /^\s*\/\/\s*(curl\s.*?)\s*(?:->.*)?$/m.exec(head);
  if (!m) return /^\s*\/\/\s*(?:npx )?bun \S+\.ts/m.test(head) ? undefined : `curl ${url}`;
  const base = url.replace(/\/$/, "");
  return m[1]!.replace(/https?:\/\/[^/\s'"]+(\/[^\s'"]*)?/g, (_, path: string | undefined) => (path && path !== "/" ? base + path : url));
}
