/** What the CLI prints: colour only on a terminal and never with NO_COLOR, errors to stderr. */

/** A mistake in how the command was called: exit code 2 and a pointer to --help. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A failure to report as `tsserve: error: <message>` with exit code 1. */
export class CliError extends Error {
  override name = "CliError";
}

const colorOn = (stream: NodeJS.WriteStream): boolean =>
  Boolean(stream.isTTY) && !process.env.NO_COLOR && process.env.TERM !== "dumb";

const paint = (code: number) => (text: string, stream: NodeJS.WriteStream = process.stdout): string =>
  colorOn(stream) ? `\x1b[${code}m${text}\x1b[0m` : text;

export const bold = paint(1);
export const dim = paint(2);
export const red = paint(31);
export const green = paint(32);
export const yellow = paint(33);
export const cyan = paint(36);

/** Colours a Ray Serve status word: green when serving, red when failed, yellow in between. */
export function statusColor(status: string, stream: NodeJS.WriteStream = process.stdout): string {
  if (["RUNNING", "HEALTHY", "ALIVE"].includes(status)) return green(status, stream);
  if (["DEPLOY_FAILED", "UNHEALTHY", "NOT_STARTED", "DEAD"].includes(status)) return red(status, stream);
  return yellow(status, stream);
}

export const out = (line = ""): void => void process.stdout.write(`${line}\n`);
export const err = (line = ""): void => void process.stderr.write(`${line}\n`);
