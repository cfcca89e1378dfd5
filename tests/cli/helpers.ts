/**
 * Helpers for driving the tsserve binary: build it once per test process, copy it to an empty
 * directory, spawn it with a temporary HOME, wait for its output (bounded), kill it after.
 * Under Deno the CLI is `deno run -A cmd/tsserve.ts` instead (there is no Deno binary to build
 * here: README, Deno), and processes are node:child_process ones, so the files run on both.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, cpSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { constants, tmpdir } from "node:os";
import { join } from "node:path";

export const repo = new URL("../..", import.meta.url).pathname;
const fixtures = new URL("./fixtures/", import.meta.url).pathname;
/** One build per `bun test` process, shared by every test file. */
const buildDir = join(tmpdir(), `tsserve-cli-test-${process.pid}`);
const temps: string[] = [];
const running = new Set<Running>();

// bun test runs no exit hooks, so each run removes the builds of runs that have ended.
for (const name of readdirSync(tmpdir())) {
  const pid = Number(/^tsserve-cli-test-(\d+)$/.exec(name)?.[1]);
  if (!pid || pid === process.pid) continue;
  try {
    process.kill(pid, 0);
  } catch {
    rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
}

/** Kills what the file's tests left running and removes their temporary directories: `afterAll(cleanup)`. */
export async function cleanup(): Promise<void> {
  await Promise.all([...running].map((r) => r[Symbol.asyncDispose]()));
  for (const t of temps.splice(0)) rmSync(t, { recursive: true, force: true });
}

/** A fresh temporary directory, removed after the file's tests. */
export function tempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `tsserve-${label}-`));
  temps.push(dir);
  return dir;
}

/**
 * How long a test file's beforeAll may wait for `binary()`: the first build of a checkout also
 * runs tsc for the declarations `tsserve init` writes (tens of seconds on a shared machine).
 */
export const BUILD_TIMEOUT_MS = 180_000;

/**
 * The binary, built by `bun scripts/build.ts` and copied alone into an empty directory (so
 * nothing beside it can help it).
 */
export async function binary(): Promise<string> {
  if (onDeno) return "";
  const built = join(buildDir, "build", "tsserve");
  if (!existsSync(built)) {
    mkdirSync(join(buildDir, "build"), { recursive: true });
    await using p = new Running([process.execPath, "scripts/build.ts", "--outfile", built], { cwd: repo, env: process.env as Record<string, string> });
    const code = await p.exited(BUILD_TIMEOUT_MS);
    if (code !== 0) throw new Error(`build failed: ${p.stderr}`);
  }
  const alone = join(buildDir, "bin", "tsserve");
  if (!existsSync(alone)) {
    mkdirSync(join(buildDir, "bin"), { recursive: true });
    // A hard link is the same file alone in its directory, without a second 100 MB copy.
    try {
      linkSync(built, alone);
    } catch {
      cpSync(built, alone);
      chmodSync(alone, 0o755);
    }
  }
  return alone;
}

export const onDeno = "Deno" in globalThis;

/** The CLI as the tests start it: the binary (built once), or on Deno the sources through Deno. */
export async function cliCommand(): Promise<string[]> {
  return onDeno ? [process.execPath, "run", "-A", join(repo, "cmd/tsserve.ts")] : [await binary()];
}

/** The fixture app (app.ts, greet.ts) copied into a new directory with no node_modules anywhere above it. */
export function appDir(): string {
  const dir = tempDir("app");
  for (const f of ["app.ts", "greet.ts"]) cpSync(join(fixtures, f), join(dir, f));
  return dir;
}

/** An environment with its own HOME and no TSSERVE_* variables, colour off. */
export function cliEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("TSSERVE_")) env[k] = v;
  return { ...env, HOME: home, NO_COLOR: "1", ...extra };
}

export interface SpawnOptions {
  cwd: string;
  env: Record<string, string>;
  /** Spawn this instead of the binary (e.g. [bun, "cmd/tsserve.ts"]). */
  command?: string[];
  stdin?: string;
}

/** A child process as the tests use it: Node's, plus Bun's `exited` (the exit code, 128 + the signal's number if a signal ended it). */
export type Proc = ChildProcess & { readonly exited: Promise<number> };

/** A running tsserve process whose output we can wait on. */
export class Running implements AsyncDisposable {
  stdout = "";
  stderr = "";
  readonly proc: Proc;
  #waiters = new Set<() => void>();

  constructor(command: string[], options: SpawnOptions) {
    const child = spawn(command[0]!, command.slice(1), {
      cwd: options.cwd,
      env: options.env,
      stdio: [options.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    const exited = new Promise<number>((resolve) => {
      child.on("error", (err) => {
        this.stderr += `spawn failed: ${err.message}\n`;
        resolve(127);
      });
      child.on("close", (code, signal) => resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0)));
    });
    this.proc = Object.assign(child, { exited });
    if (options.stdin !== undefined) child.stdin!.end(options.stdin);
    running.add(this);
    this.#pump(child.stdout!, (s) => (this.stdout += s));
    this.#pump(child.stderr!, (s) => (this.stderr += s));
  }

  #pump(stream: NodeJS.ReadableStream, add: (s: string) => void): void {
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      add(chunk);
      for (const w of this.#waiters) w();
    });
  }

  get output(): string {
    return this.stdout + this.stderr;
  }

  /** Resolves with the first match of `re` in the output; fails after `timeoutMs` or if the process exits first. */
  waitFor(re: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    return this.#waitUntil(() => re.exec(this.output) ?? undefined, `${re}`, timeoutMs);
  }

  /** Resolves once `text` has appeared `times` times in the output; bounded as waitFor is. */
  async waitForCount(text: string, times: number, timeoutMs = 20_000): Promise<void> {
    await this.#waitUntil(() => (this.output.split(text).length - 1 >= times ? true : undefined), `${times} times "${text}"`, timeoutMs);
  }

  #waitUntil<T>(found: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const v = found();
        if (v !== undefined) {
          done();
          resolve(v);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no ${what} within ${timeoutMs} ms; output:\n${this.output}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      void this.proc.exited.then(() => setTimeout(() => {
        if (!this.#waiters.has(check)) return;
        check();
        if (!this.#waiters.has(check)) return;
        done();
        reject(new Error(`exited (${this.proc.exitCode}) before printing ${what}; output:\n${this.output}`));
      }, 50));
      check();
    });
  }

  /** The exit code; fails if the process is still running after `timeoutMs`. */
  async exited(timeoutMs = 20_000): Promise<number> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const code = await Promise.race([this.proc.exited, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), timeoutMs)))]);
    clearTimeout(timer);
    if (code === undefined) throw new Error(`still running after ${timeoutMs} ms; output:\n${this.output}`);
    // "close" comes after the output streams ended: all of it has arrived.
    return code;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    running.delete(this);
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill("SIGKILL");
      await this.proc.exited;
    }
  }
}

/** Starts the binary (or `options.command`) with `args`. */
export async function spawnCli(args: string[], options: SpawnOptions): Promise<Running> {
  const command = options.command ?? (await cliCommand());
  return new Running([...command, ...args], options);
}

/** Runs a command to its end (bounded); returns its exit code and output. */
export async function cli(args: string[], options: SpawnOptions, timeoutMs = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
  await using r = await spawnCli(args, options);
  const code = await r.exited(timeoutMs);
  return { code, stdout: r.stdout, stderr: r.stderr };
}

/** The URL `run` or `start` printed for the app (or proxy) and for the admin API. */
export async function urls(r: Running): Promise<{ http: string; admin: string }> {
  const admin = (await r.waitFor(/Admin API at (http:\/\/[\d.]+:\d+)/))[1]!;
  const http = (await r.waitFor(/(?:RUNNING at|HTTP proxy at) (http:\/\/[\d.]+:\d+)/))[1]!;
  return { http, admin };
}

/** True when nothing accepts connections at `url` any more. */
export async function refuses(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(2000) });
    return false;
  } catch {
    return true;
  }
}
