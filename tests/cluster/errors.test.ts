/** Bad cluster flags and an unreachable NATS server: `tsserve start` ends with an error naming the flag and the fix. */
import { afterAll, describe, expect, test } from "bun:test";
import { createServer } from "node:net";
import { cleanup, cliEnv, repo, Running, tempDir } from "../cli/helpers.ts";

afterAll(cleanup);

const home = tempDir("cluster-errors-home");

async function start(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  await using r = new Running([process.execPath, "cmd/tsserve.ts", "start", ...args], { cwd: repo, env: cliEnv(home, { TSSERVE_TOKEN: "cluster-errors-token-0123456789abcdef0123" }) });
  const code = await r.exited(20_000);
  return { code, stdout: r.stdout, stderr: r.stderr };
}

/** A loopback port nothing listens on: one the system gave a server that is closed again. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

describe("cluster flags", () => {
  test("--cluster with something that is not a NATS URL is a usage error naming --cluster", async () => {
    const urls = ["foo", "http://127.0.0.1:4222"];
    const runs = await Promise.all(urls.map((url) => start(["--cluster", url, "--head"])));
    for (const [i, url] of urls.entries()) {
      const r = runs[i]!;
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`tsserve start: --cluster must be a NATS URL such as nats://127.0.0.1:4222`);
      expect(r.stderr).toContain(`got "${url}"`);
    }
  });

  test("--head, --node-id or --cluster-name without --cluster say they need --cluster", async () => {
    const flags = [["--head"], ["--node-id", "w1"], ["--cluster-name", "blue"]];
    const runs = await Promise.all(flags.map((args) => start([...args, "--port", "0"])));
    for (const [i, args] of flags.entries()) {
      const r = runs[i]!;
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`tsserve start: ${args[0]} needs --cluster nats://HOST:PORT`);
    }
  });

  test("a --node-id or --cluster-name NATS cannot carry in a subject is refused, naming the flag", async () => {
    const [node, name] = await Promise.all([
      start(["--cluster", "nats://127.0.0.1:4222", "--node-id", "a.b"]),
      start(["--cluster", "nats://127.0.0.1:4222", "--head", "--cluster-name", "x y"]),
    ]);
    expect(node.code).toBe(2);
    expect(node.stderr).toContain(`--node-id must be 1-64 letters, digits, "-" or "_", got "a.b"`);
    expect(name.code).toBe(2);
    expect(name.stderr).toContain(`--cluster-name must be 1-64 letters, digits, "-" or "_", got "x y"`);
  });

  test("a worker node refuses --admin-port: only the head serves the admin API", async () => {
    const r = await start(["--cluster", "nats://127.0.0.1:4222", "--admin-port", "0"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("only the head serves the admin API; drop --admin-host/--admin-port, or add --head");
  });

  test("an unreachable NATS server ends the head and a worker node with an error naming --cluster", async () => {
    const url = `nats://127.0.0.1:${await closedPort()}`;
    const runs = await Promise.all([["--head", "--admin-port", "0"], ["--node-id", "w9"]].map((args) => start(["--cluster", url, "--port", "0", ...args])));
    for (const r of runs) {
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`cannot reach the cluster's NATS server at ${url}`);
      expect(r.stderr).toContain("start nats-server with JetStream (nats-server -js) or fix --cluster");
      expect(r.stdout).not.toContain("HTTP proxy at");
    }
  });

  test("an unreadable --cluster-creds file is named", async () => {
    const r = await start(["--cluster", "nats://127.0.0.1:4222", "--cluster-creds", "/nonexistent/nats.creds", "--port", "0"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("--cluster-creds: cannot read /nonexistent/nats.creds (ENOENT)");
  });
});
