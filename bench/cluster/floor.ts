/**
 * The raw NATS floor for the cluster bench: request/reply between two processes (this one and
 * floor_responder.ts, started with the same runtime), `inFlight` requests of `bytes` bytes kept
 * outstanding for `durationMs`, answered with as many bytes. Handle calls across nodes cross
 * processes and NATS the same way, so their rate is read as a ratio to this one, measured in
 * the same run.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { connect } from "@nats-io/transport-node";

const RESPONDER = fileURLToPath(new URL("./floor_responder.ts", import.meta.url));
const READY_WITHIN_MS = 10_000;
/** Requests in the first part of the run are not counted: connections and the JIT warm up. */
const WARMUP_SHARE = 0.2;

export async function natsFloor(url: string, opts: { inFlight: number; bytes: number; durationMs: number }): Promise<{ perSecond: number }> {
  const { inFlight, bytes, durationMs } = opts;
  if (!(Number.isInteger(inFlight) && inFlight >= 1)) throw new TypeError(`inFlight must be an integer >= 1, got ${inFlight}`);
  if (!(Number.isInteger(bytes) && bytes >= 0)) throw new TypeError(`bytes must be an integer >= 0, got ${bytes}`);
  if (!(durationMs > 0)) throw new TypeError(`durationMs must be > 0, got ${durationMs}`);
  const subject = `_tsserve_bench.floor.${process.pid}.${Math.random().toString(36).slice(2)}`;
  const responder = await startResponder(url, subject);
  const nc = await connect({ servers: url });
  try {
    const payload = new Uint8Array(bytes).fill(120);
    const start = performance.now();
    const countFrom = start + durationMs * WARMUP_SHARE;
    const end = start + durationMs;
    let counted = 0;
    let countedSince = 0;
    const caller = async () => {
      for (;;) {
        await nc.request(subject, payload, { timeout: 10_000 });
        const now = performance.now();
        if (now >= end) return;
        if (now >= countFrom) {
          if (counted === 0) countedSince = now;
          counted++;
        }
      }
    };
    await Promise.all(Array.from({ length: inFlight }, caller));
    const seconds = (performance.now() - countedSince) / 1000;
    return { perSecond: counted > 0 && seconds > 0 ? counted / seconds : 0 };
  } finally {
    await nc.close();
    await stop(responder);
  }
}

/** Starts the responder with this runtime and waits for its "ready" (bounded). */
function startResponder(url: string, subject: string): Promise<ChildProcess> {
  const runtime = "Deno" in globalThis ? [process.execPath, "run", "-A", RESPONDER] : [process.execPath, RESPONDER];
  const child = spawn(runtime[0]!, [...runtime.slice(1), url, subject], { stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`the NATS floor's responder (${runtime.join(" ")}) ${why}${err ? `:\n${err.trim()}` : ""}`));
    };
    const timer = setTimeout(() => fail(`was not ready within ${READY_WITHIN_MS} ms`), READY_WITHIN_MS);
    child.once("error", (e) => fail(`could not start (${e.message})`));
    child.once("exit", (code, signal) => fail(`exited before it was ready (${signal ?? `code ${code}`})`));
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("ready\n")) {
        clearTimeout(timer);
        child.removeAllListeners("exit");
        resolve(child);
      }
    });
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}
