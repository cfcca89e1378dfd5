#!/usr/bin/env bun
/**
 * The tsserve command line: `tsserve <command> [options]`. Each command lives in its own file
 * here; this one only dispatches, and turns errors into messages and exit codes
 * (1: the command failed, 2: it was called wrongly).
 */
import { CliError, err, out, UsageError } from "./output.ts";
import { version } from "./version.ts";
import { didYouMean } from "../sdk/suggest.ts";
import * as buildCmd from "./build.ts";
import * as configCmd from "./config.ts";
import * as dashboardCmd from "./dashboard.ts";
import * as deployCmd from "./deploy.ts";
import * as initCmd from "./init.ts";
import * as runCmd from "./run.ts";
import * as shutdownCmd from "./shutdown.ts";
import * as startCmd from "./start.ts";
import * as statusCmd from "./status.ts";

interface Command {
  summary: string;
  help: string;
  main(argv: string[]): Promise<void>;
}

const commands: Record<string, Command> = {
  init: { ...initCmd, main: initCmd.init },
  run: { ...runCmd, main: runCmd.run },
  start: { ...startCmd, main: startCmd.start },
  deploy: { ...deployCmd, main: deployCmd.deploy },
  status: { ...statusCmd, main: statusCmd.status },
  config: { ...configCmd, main: configCmd.config },
  shutdown: { ...shutdownCmd, main: shutdownCmd.shutdown },
  build: { ...buildCmd, main: buildCmd.build },
  dashboard: { ...dashboardCmd, main: dashboardCmd.dashboard },
};

const usage = `Usage: tsserve <command> [options]

Serves TypeScript applications: deployments run as Worker replicas behind one HTTP proxy.

Commands:
${Object.entries(commands)
  .map(([name, c]) => `  ${name.padEnd(9)} ${c.summary}`)
  .join("\n")}

Options:
  -h, --help     show this help (tsserve <command> --help for a command's)
  -v, --version  print the version

Examples:
  tsserve init                          tsconfig.json, type declarations and app.ts, for tsc and editors
  tsserve run app.ts                    serve the export "app" of app.ts on http://127.0.0.1:8000
  tsserve run app.ts:builder size=3     call the builder export with { size: "3" }
  tsserve start & tsserve deploy serve.yaml && tsserve status`;

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === "-h" || first === "--help") {
    out(usage);
    return first === undefined ? 2 : 0;
  }
  if (first === "-v" || first === "--version") {
    out(`tsserve ${version}`);
    return 0;
  }
  if (first === "help") {
    const c = rest[0] === undefined ? undefined : commands[rest[0]];
    out(c ? c.help : usage);
    return 0;
  }
  const command = commands[first];
  if (!command) {
    err(`tsserve: unknown command "${first}"${didYouMean(first, Object.keys(commands))}; commands: ${Object.keys(commands).join(", ")}. See tsserve --help`);
    return 2;
  }
  try {
    await command.main(rest);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      err(`${e.message}\nSee tsserve ${first} --help`);
      return 2;
    }
    err(`tsserve: error: ${e instanceof CliError ? e.message : ((e as Error)?.stack ?? String(e))}`);
    return 1;
  }
}

process.exit(await main(process.argv.slice(2)));
