/** `tsserve deploy`: sends a config to a running instance (PUT /api/serve/applications/). */
import { absoluteImportPath, APPLICATIONS_PATH, CONFIG_NAME_HEADER, type ServeConfig } from "../runtime/admin/index.ts";
import { ADDRESS_OPTION, adminAddress, parse } from "./args.ts";
import { admin, getState } from "./client.ts";
import { bold, CliError, dim, out, statusColor, UsageError } from "./output.ts";
import { Progress, whileRunning } from "./progress.ts";
import { readTarget } from "./source.ts";

export const summary = "send a config (or file.ts:export) to a running instance";

export const help = `Usage: tsserve deploy <config.yaml | file.ts[:export]> [key=value ...] [options]

Checks the config, sends it to the instance's admin API, and waits until its applications
run, showing progress.

A config file is declarative: it replaces the applications that earlier deploys made, so
the ones it does not list are deleted (they are listed before anything is sent); apps made
with serve.run() stay. A file.ts[:export] target adds one application, or replaces the one
of the same --name, and leaves the others running.

Applying the same thing again changes nothing. A change of options only (numReplicas,
userConfig, ...) applies in place; a change of code or constructor arguments replaces the
replicas, rolling, while the app keeps serving.

Options:
  --address <url>        admin API (default TSSERVE_ADDRESS, else http://127.0.0.1:8265)
  --name <name>          application name for a file.ts target (default "default")
  --route-prefix <path>  route prefix for a file.ts target (default "/")
  --no-wait              return once the instance accepted the config
  -h, --help             show this help

The bearer token is TSSERVE_TOKEN, else ~/.tsserve/token.`;

/** The admin API's answer to a PUT: what it deploys, deletes and keeps. */
interface Sent {
  generation: number;
  applications: string[];
  deleted: string[];
  kept: string[];
}

const quoted = (names: string[]): string => names.map((n) => `"${n}"`).join(", ");

export async function deploy(argv: string[]): Promise<void> {
  const { values, positionals } = parse("deploy", argv, {
    ...ADDRESS_OPTION,
    name: { type: "string" },
    "route-prefix": { type: "string" },
    "no-wait": { type: "boolean" },
  });
  if (values.help) return out(help);
  const [target, ...rest] = positionals;
  if (!target) throw new UsageError("tsserve deploy: give a config.yaml or a file.ts[:export] to deploy");
  const address = adminAddress(values.address);
  const source = readTarget("deploy", target, values, rest);
  // The instance runs on this machine: send absolute import paths.
  const config: ServeConfig = {
    ...source.config,
    applications: source.config.applications.map((a) => ({ ...a, importPath: absoluteImportPath(a.importPath, source.baseDir) })),
  };
  const headers = { [CONFIG_NAME_HEADER]: source.label };
  let sent: Sent;
  if (source.configFile) {
    // Declarative: say what it deletes before it happens.
    const before = (await getState(address)).config?.applications.map((a) => a.name) ?? [];
    const listed = new Set(config.applications.map((a) => a.name));
    const dropped = before.filter((n) => !listed.has(n));
    if (dropped.length) out(`${source.label} replaces the applications deployed before: deleting ${quoted(dropped)} (not in ${source.label})`);
    sent = await admin<Sent>(address, "PUT", config, headers);
    const unexpected = sent.deleted.filter((n) => !dropped.includes(n));
    if (unexpected.length) out(`Also deleting ${quoted(unexpected)} (deployed meanwhile, not in ${source.label})`);
  } else {
    // One module: add it, or replace the application of that name; the others stay.
    const name = config.applications[0]!.name;
    sent = await admin<Sent>(address, "PUT", config, headers, APPLICATIONS_PATH + encodeURIComponent(name));
  }
  out(`Sent ${source.label} to ${address}: deploying ${quoted(sent.applications) || "no applications"}`);
  if (sent.kept.length) out(dim(`Keeping ${quoted(sent.kept)}`));
  if (values["no-wait"]) return;

  const progress = new Progress(sent.applications);
  let state = await getState(address);
  const finished = (async () => {
    while (state.apply.completed < sent.generation) {
      await new Promise((r) => setTimeout(r, 150));
      state = await getState(address);
    }
  })();
  await whileRunning(finished, () => progress.update(state));
  const failed = state.apply.completed === sent.generation ? state.apply.errors : {};
  for (const name of sent.applications) {
    const app = state.applications[name];
    if (!app) continue;
    const where = app.routePrefix === null ? "" : ` at ${state.proxy.url ?? ""}${app.routePrefix}`;
    out(`Application "${name}": ${statusColor(app.status)}${where}`);
  }
  const messages = Object.entries(failed).map(([app, message]) => `application "${app}" failed to deploy: ${message}`);
  if (messages.length) throw new CliError(messages.join("\n"));
  out(bold("Deployed."));
}
