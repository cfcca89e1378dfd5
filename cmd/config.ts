/** `tsserve config`: the config an instance runs, as YAML. */
import { stringifyYaml } from "../runtime/platform/index.ts";
import { ADDRESS_OPTION, adminAddress, parse } from "./args.ts";
import { getState } from "./client.ts";
import { CliError, out, UsageError } from "./output.ts";

export const summary = "print the config a running instance was given";

export const help = `Usage: tsserve config [--name <app>] [--address <url>]

Prints, as YAML, the config of the applications that configs (tsserve deploy, or tsserve run)
deployed to a running instance, with import paths made absolute. Apps made with serve.run()
in code have no config and are not shown.

Options:
  --name <app>     print only this application's config
  --address <url>  admin API (default TSSERVE_ADDRESS, else http://127.0.0.1:8265)
  -h, --help       show this help`;

export async function config(argv: string[]): Promise<void> {
  const { values, positionals } = parse("config", argv, { ...ADDRESS_OPTION, name: { type: "string" } });
  if (values.help) return out(help);
  if (positionals.length) throw new UsageError(`tsserve config: unexpected argument "${positionals[0]}"`);
  const state = await getState(adminAddress(values.address));
  if (!state.config) {
    if (values.name !== undefined) throw new CliError(`no config has been deployed, so there is no application "${values.name}" in one`);
    return out("No config has been deployed.");
  }
  if (values.name === undefined) return void process.stdout.write(stringifyYaml(state.config));
  const app = state.config.applications.find((a) => a.name === values.name);
  if (!app) {
    throw new CliError(`no application "${values.name}" in the deployed config; its applications: ${state.config.applications.map((a) => a.name).join(", ")}`);
  }
  process.stdout.write(stringifyYaml(app));
}
