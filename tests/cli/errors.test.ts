/**
 * The binary's errors say where: a syntax error's file:line:column and line (also under
 * --reload), a constructor's stack once in the log, a config typo's "did you mean", bad YAML's
 * line and column, and a port in use named with the flag that moves it.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { appDir, binary, cleanup, cli, cliEnv, spawnCli, tempDir, urls } from "./helpers.ts";

let home: string;

beforeAll(async () => {
  await binary();
  home = tempDir("home");
}, 60_000);

afterAll(cleanup);

const run = async (args: string[], files: Record<string, string> = {}) => {
  const dir = appDir();
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return cli(["run", ...args], { cwd: dir, env: cliEnv(home) });
};
const FREE = ["--port", "0", "--admin-port", "0"];

describe("tsserve run: errors that say where", () => {
  test("a syntax error prints file:line:column, the line and a caret", async () => {
    const r = await run(["broken.ts", ...FREE], {
      "broken.ts": 'import { serve } from "tsserve";\nexport const A = serve.deployment(class A {\n  call() { return 1;; ) }\n});\nexport const app = A.bind();\n',
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/tsserve: error: cannot import \S*broken\.ts:\n\S*broken\.ts:3:23: Unexpected \)\n {2}3 \| {3}call\(\) \{ return 1;; \) \}\n {4}\| {23}\^\n/);
  });

  test("several syntax errors are each located, in source order", async () => {
    const r = await run(["broken.ts", ...FREE], { "broken.ts": "export const b = { x: 1;, y: (2 };\n" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("broken.ts: 3 errors:\n");
    const columns = [...r.stderr.matchAll(/broken\.ts:1:(\d+): /g)].map((m) => Number(m[1]));
    expect(columns).toEqual([24, 27, 33]);
    expect(r.stderr).not.toContain("errors building");
  });

  test("under --reload, a syntax error in a saved file is located too, and the old version keeps serving", async () => {
    const dir = appDir();
    await using r = await spawnCli(["run", "app.ts", "--reload", ...FREE], { cwd: dir, env: cliEnv(home) });
    const { http } = await urls(r);
    await r.waitFor(/Watching \d+ files/);
    writeFileSync(join(dir, "greet.ts"), "export const greet = (g: string, n: string): string => `${g} ${n}`;;)\n");
    await r.waitFor(/Still serving/);
    expect(r.stderr).toMatch(/greet\.ts:1:\d+: Unexpected \)\n {2}1 \| export const greet/);
    expect(await (await fetch(`${http}/hello/Dora`)).text()).toBe("Hello Dora!");
  });

  test("a constructor that throws: its stack is logged once, and the error names the app", async () => {
    const r = await run(["ctor.ts", ...FREE], {
      "ctor.ts": [
        'import { serve } from "tsserve";',
        'function loadWeights() { throw new Error("weights.bin is missing"); }',
        "export const Model = serve.deployment(class Model {",
        "  constructor() { loadWeights(); }",
        "  call() { return 1; }",
        "});",
        "export const app = Model.bind();",
        "",
      ].join("\n"),
    });
    expect(r.code).toBe(1);
    const logged = r.stderr.split("replica failed to start: Error: weights.bin is missing").length - 1;
    expect(logged).toBe(1);
    expect(r.stderr).toMatch(/at loadWeights \(\S*ctor\.ts:2:\d+\)\n\s+at new Model \(\S*ctor\.ts:4:\d+\)/);
    // The one-line summary names the user's frames alone, on Deno (file:// URLs) as on Bun.
    const summary = /tsserve: error: application "default" failed to deploy: .*/.exec(r.stderr)?.[0];
    expect(summary).toMatch(/Error: weights\.bin is missing at loadWeights \(\S*ctor\.ts:2:\d+\) < new Model \(\S*ctor\.ts:4:\d+\)$/);
    expect(summary).not.toContain("file://");
  });

  test("a misspelt option in code or in a config suggests the right one", async () => {
    const code = await run(["typo.ts", ...FREE], {
      "typo.ts": 'import { serve } from "tsserve";\nexport const app = serve.deployment(class A { call() { return 1; } }, { numReplica: 2 } as any).bind();\n',
    });
    expect(code.code).toBe(1);
    expect(code.stderr).toContain('unknown deployment option "numReplica" (did you mean "numReplicas"?)');
    expect(code.stderr).toMatch(/\(at \S*typo\.ts:2:\d+\)\n$/);
    expect(code.stderr).not.toContain("options.ts");
    const config = await run(["serve.yaml", ...FREE], {
      "serve.yaml": "applications:\n  - importPath: ./app.ts\n    routPrefix: /x\n",
    });
    expect(config.code).toBe(1);
    expect(config.stderr).toContain('serve.yaml: applications[0].routPrefix is not a known key (did you mean "routePrefix"?)');
  });

  test("a misspelt command or flag suggests the right one (exit 2)", async () => {
    const dir = tempDir("cwd");
    const c = await cli(["statsu"], { cwd: dir, env: cliEnv(home) });
    expect(c.code).toBe(2);
    expect(c.stderr).toContain('unknown command "statsu" (did you mean "status"?)');
    const f = await cli(["run", "app.ts", "--admin-prot", "0"], { cwd: dir, env: cliEnv(home) });
    expect(f.code).toBe(2);
    expect(f.stderr).toContain("tsserve run: Unknown option '--admin-prot' (did you mean \"--admin-port\"?)");
  });

  test("bad YAML names the line and column", async () => {
    const r = await run(["serve.yaml", ...FREE], {
      "serve.yaml": "applications:\n  - importPath: ./app.ts\n    deployments:\n      - name: Greeter\n        numReplicas: [1, \n",
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("tsserve: error: serve.yaml:5:22: not valid YAML: ");
    expect(r.stderr).toContain("  5 |         numReplicas: [1, \n    |                      ^\n");
  });
});

/** Someone else's listener on a free port of 127.0.0.1 (node:http, so the file runs on Deno too). */
async function listening(): Promise<{ port: number } & AsyncDisposable> {
  const server = createServer((_, res) => res.end("someone else"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    [Symbol.asyncDispose]: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe("ports in use", () => {
  test("the admin port taken: run stops with one sentence naming the port and --admin-port", async () => {
    await using taken = await listening();
    const r = await run(["app.ts", "--port", "0", "--admin-port", String(taken.port)]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      `tsserve: error: admin API: port ${taken.port} on 127.0.0.1 is already in use (another tsserve?); pick another with --admin-port (0 picks a free one)`,
    );
    expect(r.stdout).not.toContain("RUNNING");
  });

  test("the HTTP port taken: one sentence naming the port and --port", async () => {
    await using taken = await listening();
    const r = await run(["app.ts", "--port", String(taken.port), "--admin-port", "0"]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      `tsserve: error: port ${taken.port} on 127.0.0.1 is already in use (another tsserve?); pick another with --port (0 picks a free one)`,
    );
  });
});
