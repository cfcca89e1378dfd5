/**
 * The compiled binary, alone in an empty directory, serving an app from a directory with no
 * node_modules: "tsserve" and "elysia" come from inside the binary, in the main thread, the
 * import Worker and every replica Worker.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUILD_TIMEOUT_MS, appDir, binary, cleanup, cli, cliEnv, refuses, spawnCli, tempDir, urls } from "./helpers.ts";

let home: string;
let cwd: string;

beforeAll(async () => {
  await binary();
  home = tempDir("home");
  cwd = tempDir("cwd");
}, BUILD_TIMEOUT_MS);

afterAll(cleanup);

describe("tsserve binary", () => {
  test("--version prints tsserve <semver>", async () => {
    const { version } = await import("../../package.json");
    const r = await cli(["--version"], { cwd, env: cliEnv(home) });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`tsserve ${version}`);
  });

  test("--help lists every command, and each command has its own --help", async () => {
    const r = await cli(["--help"], { cwd, env: cliEnv(home) });
    expect(r.code).toBe(0);
    for (const c of ["init", "run", "start", "deploy", "status", "config", "shutdown", "build"]) {
      expect(r.stdout).toContain(`  ${c} `);
      const h = await cli([c, "--help"], { cwd, env: cliEnv(home) });
      expect(h.code).toBe(0);
      expect(h.stdout).toStartWith(`Usage: tsserve ${c}`);
    }
  });

  test("an unknown command or option is a usage error (exit 2)", async () => {
    const a = await cli(["serve"], { cwd, env: cliEnv(home) });
    expect(a.code).toBe(2);
    expect(a.stderr).toContain('unknown command "serve"');
    const b = await cli(["status", "--bogus"], { cwd, env: cliEnv(home) });
    expect(b.code).toBe(2);
    expect(b.stderr).toContain("--bogus");
  });

  test("run serves an app with no node_modules, then SIGTERM drains and exits 0", async () => {
    const dir = appDir();
    await using r = await spawnCli(["run", "app.ts", "--port", "0", "--admin-port", "0"], { cwd: dir, env: cliEnv(home) });
    const { http, admin } = await urls(r);
    // Progress while starting, then the URL and a curl line taken from the module's header.
    expect(r.stdout).toMatch(/default\/Greeter: \d\/1 replicas ready/);
    expect(r.stdout).toContain(`curl ${http}/hello/Dora`);
    const res = await fetch(`${http}/hello/Dora`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("Hello Dora!");

    const s = await cli(["status", "--json", "--address", admin], { cwd, env: cliEnv(home) });
    expect(s.code).toBe(0);
    const status = JSON.parse(s.stdout);
    expect(status.proxy).toEqual({ url: http, status: "HEALTHY" });
    expect(status.applications.default.status).toBe("RUNNING");
    expect(status.applications.default.deployments.Greeter.replicaStates).toEqual({ RUNNING: 1 });

    r.proc.kill("SIGTERM");
    expect(await r.exited()).toBe(0);
    expect(r.stdout).toContain("draining");
    expect(await refuses(http)).toBe(true);
  });

  test("an app may import its own node_modules packages", async () => {
    const dir = appDir();
    mkdirSync(join(dir, "node_modules", "shout"), { recursive: true });
    writeFileSync(join(dir, "node_modules", "shout", "package.json"), '{ "name": "shout", "type": "module", "main": "index.js" }');
    writeFileSync(join(dir, "node_modules", "shout", "index.js"), "export const shout = (s) => s.toUpperCase();\n");
    writeFileSync(
      join(dir, "loud.ts"),
      'import { serve } from "tsserve";\nimport { shout } from "shout";\nexport const app = serve.deployment(function Loud(req: Request) { return shout(new URL(req.url).pathname); }).bind();\n',
    );
    await using r = await spawnCli(["run", "loud.ts", "--port", "0", "--admin-port", "0"], { cwd: dir, env: cliEnv(home) });
    const { http } = await urls(r);
    expect(await (await fetch(`${http}/dora`)).text()).toBe("/DORA");
  });

  test("run passes key=value arguments to a builder export; TSSERVE_TOKEN replaces the token file", async () => {
    const dir = appDir();
    const ownHome = tempDir("home");
    const env = cliEnv(ownHome, { TSSERVE_TOKEN: "s3cret-token-of-32-characters-xy" });
    await using r = await spawnCli(["run", "app.ts:withGreeting", "greeting=Hola", "--port", "0", "--admin-port", "0"], { cwd: dir, env });
    const { http, admin } = await urls(r);
    expect(await (await fetch(`${http}/hello/Dora`)).text()).toBe("Hola Dora!");
    expect(existsSync(join(ownHome, ".tsserve"))).toBe(false);
    const ok = await fetch(`${admin}/api/serve/applications/`, { headers: { authorization: "Bearer s3cret-token-of-32-characters-xy" } });
    expect(ok.status).toBe(200);
    const s = await cli(["status", "--address", admin], { cwd: dir, env });
    expect(s.code).toBe(0);
    expect(s.stdout).toMatch(/ {2}Greeter\s+HEALTHY\s+RUNNING 1/);
  });

  test("run --reload redeploys when a file the app imports changes", async () => {
    const dir = appDir();
    await using r = await spawnCli(["run", "app.ts", "--reload", "--port", "0", "--admin-port", "0"], { cwd: dir, env: cliEnv(home) });
    const { http } = await urls(r);
    await r.waitFor(/Watching \d+ files/);
    expect(await (await fetch(`${http}/hello/Dora`)).text()).toBe("Hello Dora!");
    writeFileSync(join(dir, "greet.ts"), "export const greet = (greeting: string, name: string): string => `${greeting}, ${name}`;\n");
    await r.waitFor(/Redeployed/);
    expect(await (await fetch(`${http}/hello/Dora`)).text()).toBe("Hello, Dora!");
  });
});

describe("tsserve run: errors name what is wrong", () => {
  const run = async (args: string[], files: Record<string, string> = {}) => {
    const dir = appDir();
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return cli(["run", ...args, "--port", "0", "--admin-port", "0"], { cwd: dir, env: cliEnv(home) });
  };

  test("a missing file", async () => {
    const r = await run(["nope.ts"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/tsserve: error: .*\/nope\.ts: no such file/);
  });

  test("a missing export, listing the exports there are", async () => {
    const r = await run(["app.ts:missing"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('has no export named "missing"; its exports: Api, Greeter, app, notAnApp, withGreeting');
  });

  test("an export that is neither an Application nor a builder", async () => {
    const r = await run(["app.ts:notAnApp"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('export "notAnApp" of');
    expect(r.stderr).toContain("is a number: it must be an Application (Deployment.bind(...)) or a builder function");
    const d = await run(["app.ts:Greeter"]);
    expect(d.code).toBe(1);
    expect(d.stderr).toContain("is a Deployment, not an Application; export Greeter.bind(...) instead");
  });

  test("a config with a bad key names the file and the key path", async () => {
    const r = await run(["serve.yaml"], {
      "serve.yaml": "applications:\n  - name: a\n    importPath: ./app.ts\n    deployments:\n      - name: Greeter\n        numReplica: 2\n",
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("serve.yaml: applications[0].deployments[0].numReplica is not a known key");
  });

  test("a config naming a deployment the app does not have", async () => {
    const r = await run(["serve.yaml"], { "serve.yaml": "applications:\n  - importPath: ./app.ts\n    deployments:\n      - name: Nope\n" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('serve.yaml: applications[0].deployments[0].name: application "default" has no deployment named "Nope"; its deployments: Greeter, Api');
  });
});
