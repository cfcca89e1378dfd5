/** Bad cluster flags and an unreachable NATS server: `tsserve start` ends with an error naming the flag and the fix. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer } from "node:net";
import { cleanup, cliEnv, repo, Running, tempDir } from "../cli/helpers.ts";

type Ended = { code: number; stdout: string; stderr: string };

afterAll(cleanup);

const home = tempDir("cluster-errors-home");

async function start(args: string[]): Promise<Ended> {
  await using r = new Running([process.execPath, "cmd/tsserve.ts", "start", ...args], { cwd: repo, env: cliEnv(home, { TSSERVE_TOKEN: "cluster-errors-token-0123456789abcdef0123" }) });
  const code = await r.exited(30_000);
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

let unreachable: string;
const CASES = {
  notNats: ["--cluster", "foo", "--head"],
  httpUrl: ["--cluster", "http://127.0.0.1:4222", "--head"],
  headAlone: ["--head", "--port", "0"],
  nodeIdAlone: ["--node-id", "w1", "--port", "0"],
  nameAlone: ["--cluster-name", "blue", "--port", "0"],
  badNodeId: ["--cluster", "nats://127.0.0.1:4222", "--node-id", "a.b"],
  badName: ["--cluster", "nats://127.0.0.1:4222", "--head", "--cluster-name", "x y"],
  workerAdmin: ["--cluster", "nats://127.0.0.1:4222", "--admin-port", "0"],
  unreachableHead: () => ["--cluster", unreachable, "--port", "0", "--head", "--admin-port", "0"],
  unreachableWorker: () => ["--cluster", unreachable, "--port", "0", "--node-id", "w9"],
  badCreds: ["--cluster", "nats://127.0.0.1:4222", "--cluster-creds", "/nonexistent/nats.creds", "--port", "0"],
};
const ended = {} as Record<keyof typeof CASES, Ended>;

// Every case at once: each is a process that starts, checks its flags and ends.
beforeAll(async () => {
  unreachable = `nats://127.0.0.1:${await closedPort()}`;
  await Promise.all(
    Object.entries(CASES).map(async ([name, args]) => {
      ended[name as keyof typeof CASES] = await start(typeof args === "function" ? args() : args);
    }),
  );
}, 60_000);

describe("cluster flags", () => {
  test("--cluster with something that is not a NATS URL is a usage error naming --cluster", () => {
    for (const [r, url] of [[ended.notNats, "foo"], [ended.httpUrl, "http://127.0.0.1:4222"]] as const) {
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`tsserve start: --cluster must be a NATS URL such as nats://127.0.0.1:4222`);
      expect(r.stderr).toContain(`got "${url}"`);
    }
  });

  test("--head, --node-id or --cluster-name without --cluster say they need --cluster", () => {
    for (const [r, flag] of [[ended.headAlone, "--head"], [ended.nodeIdAlone, "--node-id"], [ended.nameAlone, "--cluster-name"]] as const) {
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`tsserve start: ${flag} needs --cluster nats://HOST:PORT`);
    }
  });

  test("a --node-id or --cluster-name NATS cannot carry in a subject is refused, naming the flag", () => {
    expect(ended.badNodeId.code).toBe(2);
    expect(ended.badNodeId.stderr).toContain(`--node-id must be 1-64 letters, digits, "-" or "_", got "a.b"`);
    expect(ended.badName.code).toBe(2);
    expect(ended.badName.stderr).toContain(`--cluster-name must be 1-64 letters, digits, "-" or "_", got "x y"`);
  });

  test("a worker node refuses --admin-port: only the head serves the admin API", () => {
    expect(ended.workerAdmin.code).toBe(2);
    expect(ended.workerAdmin.stderr).toContain("only the head serves the admin API; drop --admin-host/--admin-port, or add --head");
  });

  test("an unreachable NATS server ends the head and a worker node with an error naming --cluster", () => {
    for (const r of [ended.unreachableHead, ended.unreachableWorker]) {
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`cannot reach the cluster's NATS server at ${unreachable}`);
      expect(r.stderr).toContain("start nats-server with JetStream (nats-server -js) or fix --cluster");
      expect(r.stdout).not.toContain("HTTP proxy at");
    }
  });

  test("an unreadable --cluster-creds file is named", () => {
    expect(ended.badCreds.code).toBe(1);
    expect(ended.badCreds.stderr).toContain("--cluster-creds: cannot read /nonexistent/nats.creds (ENOENT)");
  });
});
