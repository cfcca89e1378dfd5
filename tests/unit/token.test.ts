// The admin token's guards: a short TSSERVE_TOKEN, a token file others can read, a token
// directory others can write to. Each case runs in a child process with its own HOME (Bun's
// os.homedir() does not follow a HOME changed at run time).
import { afterAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const tokenModule = new URL("../../runtime/admin/token.ts", import.meta.url).pathname;
const homes: string[] = [];
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

function newHome(): string {
  const home = mkdtempSync(join(tmpdir(), "tsserve-token-"));
  homes.push(home);
  return home;
}

type Outcome = { token?: string; file?: string; error?: string; message?: string };

/** Calls `serverToken()` or `readToken()` with HOME and TSSERVE_TOKEN as given. */
async function inChild(fn: "serverToken" | "readToken", home: string, envToken?: string): Promise<Outcome> {
  const script = `import { ${fn} } from ${JSON.stringify(tokenModule)};
try { const r = ${fn}(); console.log(JSON.stringify(typeof r === "object" ? r : { token: r })); }
catch (e) { console.log(JSON.stringify({ error: e.name, message: e.message })); }`;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("TSSERVE_")) env[k] = v;
  env.HOME = home;
  if (envToken !== undefined) env.TSSERVE_TOKEN = envToken;
  // `bun -e script`, or `deno eval script`: the runtime running the tests evaluates the script.
  const args = "Deno" in globalThis ? ["eval", script] : ["-e", script];
  const p = spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  const timer = setTimeout(() => p.kill(), 20_000);
  let out = "";
  let err = "";
  p.stdout.on("data", (d: Buffer) => (out += d.toString()));
  p.stderr.on("data", (d: Buffer) => (err += d.toString()));
  await new Promise((resolve) => p.on("close", resolve));
  clearTimeout(timer);
  if (!out.trim()) throw new Error(`no answer from the child: ${err}`);
  return JSON.parse(out) as Outcome;
}

describe("TSSERVE_TOKEN", () => {
  test("shorter than 16 characters is refused by server and client, with the fix", async () => {
    for (const fn of ["serverToken", "readToken"] as const) {
      const r = await inChild(fn, newHome(), "fifteen-chars-x");
      expect(r.error).toBe("TokenError");
      expect(r.message).toBe(
        "TSSERVE_TOKEN is 15 characters long; it must be at least 16. Use a random one, e.g. TSSERVE_TOKEN=$(openssl rand -hex 32), or unset it to use ~/.tsserve/token",
      );
    }
  });

  test("16 characters or more is used as it is", async () => {
    const r = await inChild("serverToken", newHome(), "sixteen-chars-xy");
    expect(r).toEqual({ token: "sixteen-chars-xy" });
  });
});

describe("~/.tsserve/token", () => {
  test("is created with mode 0600 in a 0700 directory", async () => {
    const home = newHome();
    const r = await inChild("serverToken", home);
    expect(r.token!.length).toBeGreaterThanOrEqual(32);
    expect(statSync(join(home, ".tsserve", "token")).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, ".tsserve")).mode & 0o777).toBe(0o700);
    expect(await inChild("readToken", home)).toEqual({ token: r.token });
  });

  test("a token file other users can read is refused by server and client, with the fix", async () => {
    const home = newHome();
    mkdirSync(join(home, ".tsserve"), { mode: 0o700 });
    const file = join(home, ".tsserve", "token");
    writeFileSync(file, "a-token-of-enough-length-0123456789\n");
    chmodSync(file, 0o644);
    for (const fn of ["serverToken", "readToken"] as const) {
      const r = await inChild(fn, home);
      expect(r.error).toBe("TokenError");
      expect(r.message).toBe(`${file} can be read or written by other users (mode 0644); make it private with chmod 600 ${file}, or delete it to get a new token`);
    }
    // Left as it was: fixing it silently would hide that it was exposed.
    expect(statSync(file).mode & 0o777).toBe(0o644);
  });

  test("a ~/.tsserve other users can write to is made 0700 again", async () => {
    const home = newHome();
    const dir = join(home, ".tsserve");
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    const r = await inChild("serverToken", home);
    expect(r.token).toBeTruthy();
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });
});
