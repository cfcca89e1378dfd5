/**
 * The admin API's bearer token: `TSSERVE_TOKEN` when set (server and CLI alike), otherwise
 * `~/.tsserve/token`, which `tsserve start` creates readable by the user only (mode 0600).
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

/** Where the token file lives (HOME decides, so tests can point it elsewhere). */
export function tokenFile(): string {
  return join(homedir(), ".tsserve", "token");
}

const fromEnv = (): string | undefined => process.env.TSSERVE_TOKEN?.trim() || undefined;

/** The token a client sends: TSSERVE_TOKEN, else the token file's, else undefined. */
export function readToken(): string | undefined {
  const env = fromEnv();
  if (env) return env;
  try {
    return readFileSync(tokenFile(), "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The token a server checks: TSSERVE_TOKEN, else the token file's (made 0600 again), else a
 * new random token written to the token file with mode 0600.
 */
export function serverToken(): { token: string; file: string | undefined } {
  const env = fromEnv();
  if (env) return { token: env, file: undefined };
  const file = tokenFile();
  try {
    const existing = readFileSync(file, "utf8").trim();
    if (existing) {
      chmodSync(file, 0o600);
      return { token: existing, file };
    }
  } catch {
    // No token yet: make one below.
  }
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
