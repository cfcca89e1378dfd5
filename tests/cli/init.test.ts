/**
 * `tsserve init` with the binary alone: an empty folder becomes one where tsc checks typed
 * handles (with TypeScript from this repo's node_modules, the folder has nothing else), and
 * where the app it wrote serves.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { APP } from "../../cmd/init-app.ts";
import { BUILD_TIMEOUT_MS, binary, cleanup, cli, cliEnv, onDeno, repo, Running, spawnCli, tempDir, urls } from "./helpers.ts";

let home: string;
/** A folder `tsserve init` made, shared by the tests that only read it or add files of their own. */
let project: string;
/**
 * tsc over the folder, and over another with a file of mistakes, started together in beforeAll:
 * each takes seconds (it reads Bun's and Node's declarations), and they overlap on two cores.
 */
let checkedGood: Promise<{ code: number; output: string }>;
let checkedBad: Promise<{ code: number; output: string }>;
/** tsc reads about 5 MB of declarations: seconds alone, tens of seconds on a busy machine. */
const TSC_TIMEOUT_MS = 120_000;

const BAD = [
  'import { Elysia, t } from "elysia";',
  'import { cors } from "@elysiajs/cors";',
  'import { serve, type DeploymentHandle } from "tsserve";',
  'import { Api, Greeter } from "./app.ts";',
  "export const Bad = serve.deployment(serve.ingress((greeter: DeploymentHandle<typeof Greeter>) =>",
  "  new Elysia().use(cors()).post('/', async ({ body }) => await greeter.greet.remote(body.count), { body: t.Object({ count: t.Number() }) })));",
  'Api.bind("not a Greeter");',
  "const version: number = Bun.version;",
  "",
].join("\n");

async function init(dir: string): Promise<void> {
  // From a checkout (Deno: there is no binary here), the first init makes the declarations with tsc.
  const r = await cli(["init", dir], { cwd: home, env: cliEnv(home) }, BUILD_TIMEOUT_MS);
  if (r.code !== 0) throw new Error(`tsserve init failed (${r.code}):\n${r.stdout}${r.stderr}`);
}

beforeAll(async () => {
  await binary();
  home = tempDir("home");
  project = tempDir("init");
  const bad = tempDir("init-bad");
  await Promise.all([init(project), init(bad)]);
  writeFileSync(join(bad, "bad.ts"), BAD);
  // tsc over the folders checks the declarations, the same whichever runtime wrote them: the Bun
  // run checks them, and Deno's skips these two tests (tests/deno/skips.ts) for the time they take.
  if (onDeno) return;
  checkedGood = tsc(project);
  checkedBad = tsc(bad);
}, BUILD_TIMEOUT_MS);

afterAll(cleanup);

/** tsc --noEmit -p dir, with the repo's TypeScript. */
async function tsc(dir: string): Promise<{ code: number; output: string }> {
  await using p = new Running([join(repo, "node_modules/.bin/tsc"), "--noEmit", "-p", dir], { cwd: dir, env: process.env as Record<string, string> });
  const code = await p.exited(TSC_TIMEOUT_MS);
  return { code, output: p.stdout + p.stderr };
}

describe("tsserve init", () => {
  test("writes tsconfig.json, app.ts and the declarations the binary holds", () => {
    for (const f of ["tsconfig.json", "app.ts", ".tsserve/types/node_modules/tsserve/sdk/index.d.ts", ".tsserve/types/node_modules/elysia/dist/index.d.ts", ".tsserve/types/node_modules/@elysiajs/cors/dist/index.d.ts", ".tsserve/types/node_modules/@sinclair/typebox/package.json", ".tsserve/types/node_modules/bun-types/index.d.ts"]) {
      expect(existsSync(join(project, f))).toBe(true);
    }
    expect(readFileSync(join(project, "app.ts"), "utf8")).toBe(APP);
  });

  test("tsc --noEmit passes in the folder, with nothing but the binary's output", async () => {
    const r = await checkedGood;
    expect(r.output).toBe("");
    expect(r.code).toBe(0);
  }, TSC_TIMEOUT_MS);

  test("a wrong handle call, a wrong bind and a wrong Elysia body fail tsc, each at its line", async () => {
    const r = await checkedBad;
    expect(r.code).not.toBe(0);
    expect(r.output).toContain("bad.ts(6,");
    expect(r.output).toContain("Argument of type 'number' is not assignable to parameter of type 'string | DeploymentResponse<string>'");
    expect(r.output).toContain("bad.ts(7,");
    expect(r.output).toContain("Argument of type 'string' is not assignable to parameter of type 'Application<any>'");
    expect(r.output).toContain("bad.ts(8,");
    expect(r.output.trim().split("\n")).toHaveLength(3);
  }, TSC_TIMEOUT_MS);

  test("the app it wrote serves: a typed Elysia ingress calling Greeter", async () => {
    await using r = await spawnCli(["run", "app.ts", "--port", "0", "--admin-port", "0"], { cwd: project, env: cliEnv(home) });
    const { http } = await urls(r);
    expect(r.stdout).toContain(`curl ${http}/hello/Dora`);
    expect(r.stdout).toMatch(/default\/Api: 1\/1 replicas ready/);
    expect(r.stdout).toMatch(/default\/Greeter: 2\/2 replicas ready/);
    const res = await fetch(`${http}/hello/Dora`);
    expect(res.status).toBe(200);
    // Elysia's own: its Bun adapter adds the charset, its web-standard one (Deno) does not.
    expect(res.headers.get("content-type")).toBe(onDeno ? "text/plain" : "text/plain;charset=utf-8");
    expect(await res.text()).toBe("Hello, Dora!");
    expect(await (await fetch(`${http}/count/3`)).text()).toBe("1\n2\n3\n");
  });

  test("a second init keeps the user's tsconfig.json and app.ts, and rewrites the declarations", async () => {
    const dir = tempDir("init-again");
    writeFileSync(join(dir, "app.ts"), "// mine\n");
    writeFileSync(join(dir, "tsconfig.json"), "{}\n");
    const r = await cli(["init"], { cwd: dir, env: cliEnv(home) });
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, "app.ts"), "utf8")).toBe("// mine\n");
    expect(readFileSync(join(dir, "tsconfig.json"), "utf8")).toBe("{}\n");
    expect(r.stdout).toContain("Kept tsconfig.json and app.ts as they were");
    expect(r.stdout).toContain('add the compilerOptions "paths", "types" and "typeRoots"');
    expect(existsSync(join(dir, ".tsserve/types/node_modules/tsserve/sdk/index.d.ts"))).toBe(true);
  });

  test("two folders is a usage error; a file for the folder is an error that says so", async () => {
    const dir = tempDir("init-usage");
    const r = await cli(["init", "a", "b"], { cwd: dir, env: cliEnv(home) });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("tsserve init: one folder at most, got 2: a b");
    writeFileSync(join(dir, "app.ts"), "// mine\n");
    const f = await cli(["init", "app.ts"], { cwd: dir, env: cliEnv(home) });
    expect(f.code).toBe(1);
    expect(f.stderr.trim()).toBe('tsserve: error: app.ts is a file; tsserve init takes a folder (new or existing), such as "tsserve init my-app"');
  });
});

test("examples/greeting_api.ts is the app.ts that init writes", () => {
  expect(readFileSync(join(repo, "examples/greeting_api.ts"), "utf8")).toBe(APP);
});
