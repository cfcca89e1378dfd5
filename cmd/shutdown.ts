/** `tsserve shutdown`: deletes every application and stops a running instance. */
import { ADDRESS_OPTION, adminAddress, parse } from "./args.ts";
import { admin } from "./client.ts";
import { CliError, out, UsageError } from "./output.ts";

export const summary = "delete every application and stop a running instance";

export const help = `Usage: tsserve shutdown [-y] [--address <url>]

Deletes every application of a running instance (replicas finish their in-flight requests)
and stops it. Asks first unless -y is given.

Options:
  -y, --yes        do not ask
  --address <url>  admin API (default TSSERVE_ADDRESS, else http://127.0.0.1:8265)
  -h, --help       show this help`;

async function confirm(question: string): Promise<boolean> {
  process.stdout.write(`${question} [y/N] `);
  for await (const chunk of process.stdin) {
    const answer = String(chunk).trim().toLowerCase();
    return answer === "y" || answer === "yes";
  }
  return false;
}

export async function shutdown(argv: string[]): Promise<void> {
  const { values, positionals } = parse("shutdown", argv, { ...ADDRESS_OPTION, yes: { type: "boolean", short: "y" } });
  if (values.help) return out(help);
  if (positionals.length) throw new UsageError(`tsserve shutdown: unexpected argument "${positionals[0]}"`);
  const address = adminAddress(values.address);
  if (!values.yes && !(await confirm(`Delete every application and stop the tsserve instance at ${address}?`))) {
    throw new CliError("not confirmed; nothing was changed (pass -y to skip the question)");
  }
  await admin(address, "DELETE");
  out(`The tsserve instance at ${address} deleted its applications and is stopping.`);
}
