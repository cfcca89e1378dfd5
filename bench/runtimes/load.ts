// HTTP load for bench/runtimes.ts: bench/loadgen.ts under Bun, in a process of its own, for both
// runtimes, so only the server changes between the Bun and the Deno run.
import { spawn } from "node:child_process";

export interface Load {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

const root = new URL("../..", import.meta.url).pathname;
export const LOAD = { connections: 64, durationS: Number(process.env.BENCH_SECONDS ?? 3) };

export function httpLoad(url: string): Promise<Load> {
  return new Promise((resolve, reject) => {
    const child = spawn(`${root}node_modules/.bin/bun`, [`${root}bench/loadgen.ts`, JSON.stringify({ url, ...LOAD })], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out) as Load) : reject(new Error(`loadgen exited ${code}: ${out}`))));
  });
}
