/** `tsserve deploy`: sends a config to a running instance (PUT /api/serve/applications/). */
import { absoluteImportPath, CONFIG_NAME_HEADER, type ServeConfig } from "../runtime/admin/index.ts";
import { ADDRESS_OPTION, adminAddress, parse } from "./args.ts";
import { admin, getState } from "./client.ts";
import { bold, CliError, out, statusColor, UsageError } from "./output.ts";
import { Progress, whileRunning } from "./progress.ts";
import { readTarget } from "./source.ts";

export const summary = "send a config (or file.ts:export) to a running instance";

export const help = `Usage: tsserve deploy <config.yaml | file.ts[:export]> [key=value ...] [options]

Checks the config, sends it to the instance's admin API, and waits until its applications
run, showing progress. The config replaces the applications that earlier configs deployed
(apps made with serve.run() stay); applying the same config again changes nothing. A
change of options only (numReplicas, userConfig, ...) applies in place; a change of code
or constructor arguments replaces the replicas, rolling, while the app keeps serving.

Options:
  --address <url>        admin API (default TSSERVE_ADDRESS, else http://127.0.0.1:8265)
  --name <name>          application name for a file.ts target (default "default")
  --route-prefix <path>  route prefix for a file.ts target (default "/")
  --no-wait              return once the instance accepted the config
  -h, --help             show this help

The bearer token is TSSERVE_TOKEN, else ~/.tsserve/token.`;

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
  const sent = await admin<{ generation: number; applications: string[]; deleted: string[] }>(address, "PUT", config, {
    [CONFIG_NAME_HEADER]: source.label,
  });
  out(`Sent ${source.label} to ${address}: deploying ${sent.applications.map((a) => `"${a}"`).join(", ") || "no applications"}`);
  if (sent.deleted.length) out(`Deleting ${sent.deleted.map((a) => `"${a}"`).join(", ")} (no longer in the config)`);
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
