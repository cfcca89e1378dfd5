/**
 * `tsserve build`, the example config, a failing deploy, and the CLI run from source (what
 * `npm start` does) for an app outside the repo.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseYaml } from "../../runtime/platform/index.ts";
import { BUILD_TIMEOUT_MS, appDir, binary, cleanup, cli, cliEnv, spawnCli, tempDir, urls } from "./helpers.ts";

const repo = new URL("../..", import.meta.url).pathname;
let home: string;

beforeAll(async () => {
  await binary();
  home = tempDir("home");
}, BUILD_TIMEOUT_MS);

afterAll(cleanup);

describe("tsserve build", () => {
  test("writes a config with every deployment's options, which run accepts", async () => {
    const dir = appDir();
    const r = await cli(["build", "app.ts:app", "-o", "out/serve.yaml"], { cwd: dir, env: cliEnv(home) });
    expect(r.code).toBe(0);
    const text = readFileSync(join(dir, "out", "serve.yaml"), "utf8");
    expect(text).toStartWith("# Written by tsserve build app.ts:app");
    const config = parseYaml(text) as any;
    expect(config.applications).toEqual([
      {
        name: "default",
        routePrefix: "/",
        importPath: "../app.ts:app",
        args: {},
        deployments: [{ name: "Greeter", userConfig: { punctuation: "!" } }, { name: "Api" }],
      },
    ]);

    await using run = await spawnCli(["run", "out/serve.yaml", "--port", "0", "--admin-port", "0"], { cwd: dir, env: cliEnv(home) });
    const { http } = await urls(run);
    expect(await (await fetch(`${http}/hello/Dora`)).text()).toBe("Hello Dora!");
  });

  test("several targets get their own names and prefixes; stdout without -o", async () => {
    const dir = appDir();
    mkdirSync(join(dir, "more"));
    writeFileSync(join(dir, "more", "app.ts"), 'export { app } from "../app.ts";\n');
    const r = await cli(["build", "app.ts", "more/app.ts:app"], { cwd: dir, env: cliEnv(home) });
    expect(r.code).toBe(0);
    const config = parseYaml(r.stdout) as any;
    expect(config.applications.map((a: any) => [a.name, a.routePrefix, a.importPath])).toEqual([
      ["app", "/app", "./app.ts:app"],
      ["app_1", "/app_1", "./more/app.ts:app"],
    ]);
  });
});

test("examples/config.yaml serves both of its apps with its overrides", async () => {
  await using r = await spawnCli(["run", join(repo, "examples/config.yaml"), "--port", "0", "--admin-port", "0"], { cwd: tempDir("cwd"), env: cliEnv(home) });
  const { http } = await urls(r);
  await r.waitFor(/Application "calculator" is RUNNING/);
  expect(r.stdout).toContain("hello/SpanishResponder: 2/2 replicas ready");
  const calc = await fetch(`${http}/calc`, { method: "POST", body: JSON.stringify({ x: 5 }) });
  expect(await calc.json()).toEqual({ result: 18 });
  const hello = await fetch(`${http}/`, { method: "POST", body: JSON.stringify({ language: "spanish", name: "Dora" }) });
  expect(await hello.text()).toBe("Hola Dora");
});

test("an app that fails to deploy: run exits 1 with the replica's error", async () => {
  const dir = appDir();
  writeFileSync(
    join(dir, "boom.ts"),
    'import { serve } from "tsserve";\nexport const Boom = serve.deployment(class Boom { constructor() { throw new Error("no model file"); } });\nexport const app = Boom.bind();\n',
  );
  const r = await cli(["run", "boom.ts", "--port", "0", "--admin-port", "0"], { cwd: dir, env: cliEnv(home) });
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('application "default" failed to deploy');
  expect(r.stderr).toContain("no model file");
});

describe("from source (bun cmd/tsserve.ts, as npm start runs it)", () => {
  const source = [process.execPath, join(repo, "cmd/tsserve.ts")];

  test("serves examples/hello.ts and prints the URL and a curl line", async () => {
    await using r = await spawnCli(["run", "examples/hello.ts", "--port", "0", "--admin-port", "0"], { cwd: repo, env: cliEnv(home), command: source });
    const { http } = await urls(r);
    expect(r.stdout).toContain(`curl -X POST ${http}/ -d '{"language": "spanish", "name": "Dora"}'`);
    const res = await fetch(`${http}/`, { method: "POST", body: JSON.stringify({ language: "spanish", name: "Dora" }) });
    expect(await res.text()).toBe("Hola Dora");
  });

  test("serves an app outside the repo, with no node_modules, that imports tsserve and elysia", async () => {
    await using r = await spawnCli(["run", "app.ts", "--port", "0", "--admin-port", "0"], { cwd: appDir(), env: cliEnv(home), command: source });
    const { http } = await urls(r);
    expect(await (await fetch(`${http}/hello/Dora`)).text()).toBe("Hello Dora!");
  });
});
