/** Argument parsing for every command: node:util parseArgs, with messages that say what to do. */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "./output.ts";
import { didYouMean } from "../sdk/suggest.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** Parses `argv` for `command`; a mistake becomes a UsageError naming the command. */
export function parse<O extends Options>(command: string, argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options: { help: { type: "boolean", short: "h" }, ...options }, allowPositionals: true, strict: true });
  } catch (e) {
    let message = (e as Error).message.replace(/\. To specify a positional argument.*$/s, "");
    const unknown = /^Unknown option '--([^']+)'/.exec(message)?.[1];
    if (unknown) message += didYouMean(unknown, ["help", ...Object.keys(options)]).replace(/"(.+)"/, '"--$1"');
    throw new UsageError(`tsserve ${command}: ${message}`);
  }
}

/** `--port 8000` as a number from 0 to 65535. */
export function portArg(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new UsageError(`${flag} must be an integer from 0 to 65535, got "${value}"`);
  return n;
}

/** `key=value` words, for a builder's args. */
export function keyValues(words: string[], command: string): Record<string, string> {
  const args: Record<string, string> = {};
  for (const w of words) {
    const eq = w.indexOf("=");
    if (eq <= 0) throw new UsageError(`tsserve ${command}: unexpected argument "${w}"; builder arguments are key=value`);
    args[w.slice(0, eq)] = w.slice(eq + 1);
  }
  return args;
}

/** The admin API's address: --address, else TSSERVE_ADDRESS, else http://127.0.0.1:8265. */
export function adminAddress(flag: string | undefined): string {
  const raw = flag ?? process.env.TSSERVE_ADDRESS ?? "http://127.0.0.1:8265";
  const withScheme = /^https?:\/\//.test(raw) ? raw : `http://${raw}`;
  try {
    return new URL(withScheme).origin;
  } catch {
    throw new UsageError(`--address must be a URL such as http://127.0.0.1:8265, got "${raw}"`);
  }
}

export const ADDRESS_OPTION = { address: { type: "string" } } as const;

/** `--log-format json|text` as the instance's log encoding (nothing when the flag is absent). */
export function logFormatArg(value: string | undefined): { encoding?: "TEXT" | "JSON" } {
  if (value === undefined) return {};
  const v = value.toUpperCase();
  if (v !== "TEXT" && v !== "JSON") throw new UsageError(`--log-format must be json or text, got "${value}"`);
  return { encoding: v };
}
