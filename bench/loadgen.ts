// Fallback HTTP load generator, run as its own process by bench/load.ts when wrk is missing:
//   bun bench/loadgen.ts '{"url":"http://127.0.0.1:PORT/","connections":64,"durationS":3}'
// N keep-alive fetch loops for D seconds; prints {"rps","p50Ms","p99Ms","errors","requests"} as JSON.
export {};

/** performance.now() in nanoseconds: Bun.nanoseconds() would tie this to Bun (bench/runtimes.ts runs it on Deno too). */
const nowNs = () => performance.now() * 1e6;

interface Args {
  url: string;
  connections: number;
  durationS: number;
  method?: string;
  body?: string;
  headers?: Record<string, string>;
}

const args = JSON.parse(process.argv[2] ?? "{}") as Args;
const startNs = nowNs();
const endNs = startNs + args.durationS * 1e9;
const latenciesMs: number[] = [];
let errors = 0;

async function loop(): Promise<void> {
  const init: RequestInit = { method: args.method ?? "GET", body: args.body, headers: args.headers, keepalive: true };
  while (nowNs() < endNs) {
    const t0 = nowNs();
    try {
      const res = await fetch(args.url, { ...init, signal: AbortSignal.timeout(5000) });
      await res.arrayBuffer();
      if (res.status >= 400) errors++;
      else latenciesMs.push((nowNs() - t0) / 1e6);
    } catch {
      errors++;
    }
  }
}

await Promise.all(Array.from({ length: args.connections }, loop));
const elapsedS = (nowNs() - startNs) / 1e9;
const sorted = Float64Array.from(latenciesMs).sort();
const pct = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : undefined);
console.log(JSON.stringify({ rps: latenciesMs.length / elapsedS, p50Ms: pct(50), p99Ms: pct(99), errors, requests: latenciesMs.length }));
process.exit(0);
