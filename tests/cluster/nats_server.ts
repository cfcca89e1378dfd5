/**
 * A real nats-server (Debian's, with JetStream) for a test: loopback only, a port the server
 * picks itself (`-p -1`, so no two tests race for one), its store in a fresh temporary
 * directory, stopped and removed when the test's scope ends.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface NatsServer extends AsyncDisposable {
  /** `nats://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** What the server printed, every run of it (it logs slow consumers and dropped clients). */
  readonly log: string;
  /** Stops the server (SIGTERM), as a crash of the NATS machine would look to the nodes. */
  stop(): Promise<void>;
  /** Starts it again, stopped, on the same port with the same store (a NATS restart). */
  restart(): Promise<void>;
}

const STARTS_WITHIN_MS = 10_000;

export async function startNats(): Promise<NatsServer> {
  const dir = mkdtempSync(join(tmpdir(), "tsserve-nats-"));
  const out = { log: "" };
  let { child, port } = await launch(dir, -1, out);
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
  };
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    get log() {
      return out.log;
    },
    stop,
    async restart() {
      await stop();
      ({ child, port } = await launch(dir, port, out));
    },
    async [Symbol.asyncDispose]() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Starts nats-server on `port` (-1: one it picks) and waits for the port it listens on. */
async function launch(dir: string, wanted: number, out: { log: string }): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn("nats-server", ["-a", "127.0.0.1", "-p", String(wanted), "-js", "-sd", dir], { stdio: ["ignore", "ignore", "pipe"] });
  const from = out.log.length;
  child.stderr!.on("data", (chunk: Buffer) => (out.log += chunk.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nats-server did not start within ${STARTS_WITHIN_MS} ms:\n${out.log.slice(from)}`)), STARTS_WITHIN_MS);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot start nats-server (${err.message}); install it with: apt-get install nats-server`));
    });
    child.stderr!.on("data", () => {
      const m = /Listening for client connections on [^:]+:(\d+)/.exec(out.log.slice(from));
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
  });
  return { child, port };
}
