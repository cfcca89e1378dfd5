/**
 * The admin API's bearer token: `TSSERVE_TOKEN` when set (server and CLI alike), otherwise
 * `~/.tsserve/token`, which `tsserve start` creates readable by the user only (mode 0600).
 *
 * Refused, with the fix in the message: a `TSSERVE_TOKEN` shorter than 16 characters (easy to
 * guess), and a token file other users can read (it is the key to the instance). A
 * `~/.tsserve` others can write to is made 0700 again when it is ours (someone could swap the
 * token file), and refused when it is not.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { ServeError } from "../../sdk/errors.ts";

export const MIN_TOKEN_LENGTH = 16;

/** A token that cannot be used; its message says how to fix it. */
export class TokenError extends ServeError {
  override name = "TokenError";
}

/** Where the token file lives (HOME decides, so tests can point it elsewhere). */
export function tokenFile(): string {
  return join(homedir(), ".tsserve", "token");
}

function fromEnv(): string | undefined {
  const env = process.env.TSSERVE_TOKEN?.trim();
  if (!env) return undefined;
  if (env.length < MIN_TOKEN_LENGTH) {
    throw new TokenError(
      `TSSERVE_TOKEN is ${env.length} characters long; it must be at least ${MIN_TOKEN_LENGTH}. Use a random one, e.g. TSSERVE_TOKEN=$(openssl rand -hex 32), or unset it to use ~/.tsserve/token`,
    );
  }
  return env;
}

const uid = () => process.getuid?.();

/** Makes a group- or world-writable token directory 0700 again, or refuses one owned by someone else. */
function secureDir(dir: string): void {
  let st;
  try {
    st = statSync(dir);
  } catch {
    return; // Not there yet: made 0700 below.
  }
  if ((st.mode & 0o022) === 0) return;
  if (uid() !== undefined && st.uid !== uid()) {
    throw new TokenError(`${dir} is writable by other users and belongs to another user (uid ${st.uid}); remove it, or set TSSERVE_TOKEN`);
  }
  chmodSync(dir, 0o700);
}

/** The file's token, or undefined when there is no file; refuses a file others can read. */
function fromFile(file: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o077) {
    throw new TokenError(
      `${file} can be read or written by other users (mode ${mode.toString(8).padStart(4, "0")}); make it private with chmod 600 ${file}, or delete it to get a new token`,
    );
  }
  return text.trim() || undefined;
}

/** The token a client sends: TSSERVE_TOKEN, else the token file's, else undefined. Throws TokenError. */
export function readToken(): string | undefined {
  const env = fromEnv();
  if (env) return env;
  const file = tokenFile();
  secureDir(dirname(file));
  return fromFile(file);
}

/**
 * The token a server checks: TSSERVE_TOKEN, else the token file's, else a new random token
 * written to the token file with mode 0600. Throws TokenError.
 */
export function serverToken(): { token: string; file: string | undefined } {
  const env = fromEnv();
  if (env) return { token: env, file: undefined };
  const file = tokenFile();
  secureDir(dirname(file));
  const existing = fromFile(file);
  if (existing) return { token: existing, file };
  const token = randomBytes(32).toString("base64url");
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { token, file };
}

/** Compares in constant time. */
export function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
