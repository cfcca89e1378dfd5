// HTTP load generation from a separate process: wrk when it can be had, else bench/loadgen.ts.
// Every run targets 127.0.0.1 and is bounded in time (the child is killed past its deadline).
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rmSync, writeFileSync } from "node:fs";

export interface HttpLoadOptions {
  connections: number;
  durationS: number;
  method?: string;
  body?: string;
  headers?: Record<string, string>;
  /** wrk threads; default 1, which beat 2 on these 2-core machines (the server needs the other core). */
  threads?: number;
}

export interface HttpLoadResult {
  rps: number;
  p50Ms?: number;
  p99Ms?: number;
  errors: number;
  tool: "wrk" | "bun-loadgen";
}

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs a command, killing it (that one process, by its handle) if it outlives timeoutMs. */
export async function runBounded(cmd: string[], timeoutMs: number, env?: Record<string, string>): Promise<Ran> {
  const proc = Bun.spawn(cmd, {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: env ? { ...process.env, ...env } : undefined,
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill("SIGKILL");
  }, timeoutMs);
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  clearTimeout(timer);
  return { code, stdout, stderr, timedOut };
}

let wrkPath: Promise<string | null> | undefined;

/** Path of wrk, installing the Debian package when missing; null when it cannot be had.
 *  BENCH_LOADGEN=bun forces the Bun fallback. Resolved once per process. */
export function ensureWrk(): Promise<string | null> {
  wrkPath ??= findOrInstallWrk();
  return wrkPath;
}

async function findOrInstallWrk(): Promise<string | null> {
  if (process.env.BENCH_LOADGEN === "bun") return null;
  const found = Bun.which("wrk");
  if (found) return found;
  if (!Bun.which("apt-get")) return null;
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  const install = () => runBounded(["apt-get", "install", "-y", "wrk"], 180_000, env);
  console.error("bench: wrk not found, trying apt-get install -y wrk");
  let r = await install();
  if (r.code !== 0) {
    await runBounded(["apt-get", "update"], 180_000, env);
    r = await install();
  }
  const after = Bun.which("wrk");
  if (!after) console.error(`bench: wrk unavailable, using the Bun load generator (${r.stderr.trim().split("\n").pop() ?? ""})`);
  return after;
}

/** Load `url` (must be 127.0.0.1) for opts.durationS seconds with opts.connections keep-alive connections. */
export async function measureHttp(url: string, opts: HttpLoadOptions): Promise<HttpLoadResult> {
  const u = new URL(url);
  if (u.hostname !== "127.0.0.1") throw new Error(`measureHttp: load must target 127.0.0.1, got ${u.hostname}`);
  if (!(opts.connections >= 1) || !(opts.durationS > 0)) throw new Error("measureHttp: connections >= 1 and durationS > 0 required");
  const wrk = await ensureWrk();
  return wrk ? runWrk(wrk, url, opts) : runBunLoadgen(url, opts);
}

async function runWrk(wrk: string, url: string, opts: HttpLoadOptions): Promise<HttpLoadResult> {
  const script = join(tmpdir(), `tsserve-bench-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.lua`);
  writeFileSync(script, wrkLua(opts));
  const threads = Math.max(1, Math.min(opts.threads ?? 1, opts.connections));
  const durationS = Math.max(1, Math.round(opts.durationS));
  try {
    const r = await runBounded(
      [wrk, "-t", String(threads), "-c", String(opts.connections), "-d", `${durationS}s`, "--timeout", "5s", "-s", script, url],
      (durationS + 15) * 1000,
    );
    if (r.timedOut) throw new Error(`wrk did not finish within ${durationS + 15}s`);
    return parseWrk(r.stdout, r.stderr);
  } finally {
    rmSync(script, { force: true });
  }
}

const MARK = "TSSERVE_WRK_JSON ";

function wrkLua(opts: HttpLoadOptions): string {
  const lines: string[] = [];
  if (opts.method) lines.push(`wrk.method = ${luaString(opts.method)}`);
  if (opts.body !== undefined) lines.push(`wrk.body = ${luaString(opts.body)}`);
  for (const [k, v] of Object.entries(opts.headers ?? {})) lines.push(`wrk.headers[${luaString(k)}] = ${luaString(v)}`);
  lines.push(
    "done = function(summary, latency, requests)",
    "  local e = summary.errors",
    `  io.write(string.format("\\n${MARK}{\\"requests\\":%.0f,\\"durationUs\\":%.0f,\\"p50Us\\":%.3f,\\"p99Us\\":%.3f,\\"socketErrors\\":%.0f,\\"statusErrors\\":%.0f}\\n",`,
    "    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),",
    "    e.connect + e.read + e.write + e.timeout, e.status))",
    "end",
  );
  return lines.join("\n") + "\n";
}

/** A Lua string literal for any text: printable ASCII kept, every other byte as \ddd. */
function luaString(s: string): string {
  let out = '"';
  for (const b of new TextEncoder().encode(s)) {
    out += b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c ? String.fromCharCode(b) : "\\" + String(b).padStart(3, "0");
  }
  return out + '"';
}

function parseWrk(stdout: string, stderr: string): HttpLoadResult {
  const line = stdout.split("\n").find((l) => l.startsWith(MARK));
  if (line) {
    const j = JSON.parse(line.slice(MARK.length)) as {
      requests: number; durationUs: number; p50Us: number; p99Us: number; socketErrors: number; statusErrors: number;
    };
    return {
      rps: j.durationUs > 0 ? (j.requests * 1e6) / j.durationUs : 0,
      p50Ms: j.p50Us / 1000,
      p99Ms: j.p99Us / 1000,
      errors: j.socketErrors + j.statusErrors,
      tool: "wrk",
    };
  }
  const rps = /Requests\/sec:\s*([\d.]+)/.exec(stdout);
  if (!rps) throw new Error(`could not parse wrk output:\n${stdout}\n${stderr}`);
  return { rps: Number(rps[1]), errors: 0, tool: "wrk" };
}

async function runBunLoadgen(url: string, opts: HttpLoadOptions): Promise<HttpLoadResult> {
  const script = new URL("./loadgen.ts", import.meta.url).pathname;
  const r = await runBounded([process.execPath, script, JSON.stringify({ url, ...opts })], (opts.durationS + 15) * 1000);
  if (r.timedOut) throw new Error(`bun loadgen did not finish within ${opts.durationS + 15}s`);
  if (r.code !== 0) throw new Error(`bun loadgen failed (exit ${r.code}):\n${r.stderr}`);
  const j = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as Omit<HttpLoadResult, "tool">;
  return { ...j, tool: "bun-loadgen" };
}
