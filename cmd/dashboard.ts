/** `tsserve dashboard`: prints the dashboard's URL with the admin token in its fragment. */
import { readToken, tokenFile } from "../runtime/admin/index.ts";
import { ADDRESS_OPTION, adminAddress, parse } from "./args.ts";
import { dashboardLink } from "./instance.ts";
import { CliError, out, UsageError } from "./output.ts";

export const summary = "print the dashboard's URL, with the admin token (opens nothing)";

export const help = `Usage: tsserve dashboard [--address <url>]

Prints the URL of a running instance's dashboard with the admin token in its fragment
(#token=...): the browser keeps the token for the tab, and a fragment is never sent to the
server or written to its logs. Opens nothing.

Options:
  --address <url>  admin API (default TSSERVE_ADDRESS, else http://127.0.0.1:8265)
  -h, --help       show this help`;

export async function dashboard(argv: string[]): Promise<void> {
  const { values, positionals } = parse("dashboard", argv, { ...ADDRESS_OPTION });
  if (values.help) return out(help);
  if (positionals.length) throw new UsageError(`tsserve dashboard: unexpected argument "${positionals[0]}"`);
  const token = readToken();
  if (!token) throw new CliError(`no admin token: set TSSERVE_TOKEN, or start the instance with tsserve start (it writes ${tokenFile()})`);
  out(dashboardLink(adminAddress(values.address), token));
}
