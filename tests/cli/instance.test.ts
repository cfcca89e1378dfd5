/**
 * `tsserve start`, then deploy / status / config / shutdown against it through the admin API,
 * and the admin API's guards: bearer token (401), browser Origin (403), bad bodies (400).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseYaml } from "../../runtime/platform/index.ts";
import { BUILD_TIMEOUT_MS, appDir, binary, cleanup, cli, cliEnv, refuses, type Running, spawnCli, tempDir, urls } from "./helpers.ts";

let home: string;
let dir: string;
let instance: Running;
let http: string;
let admin: string;
let token: string;

const env = () => cliEnv(home);
const run = (args: string[]) => cli([...args, "--address", admin], { cwd: dir, env: env() });
const api = (init: RequestInit & { token?: string | null } = {}) => {
  const headers = new Headers(init.headers);
  const t = init.token === undefined ? token : init.token;
  if (t) headers.set("authorization", `Bearer ${t}`);
  return fetch(`${admin}/api/serve/applications/`, { ...init, headers });
};
const text = async (path: string) => (await fetch(http + path)).text();
const errorOf = async (res: Response) => ((await res.json()) as { error: string }).error;

const config = (extra = "") => `# deployed by the test
applications:
  - name: greet
    routePrefix: /greet
    importPath: ./app.ts
    deployments:
      - name: Greeter
        userConfig: { punctuation: "?" }${extra}
`;

beforeAll(async () => {
  await binary();
  home = tempDir("home");
  dir = appDir();
  writeFileSync(join(dir, "serve.yaml"), config());
  instance = await spawnCli(["start", "--port", "0", "--admin-port", "0"], { cwd: dir, env: env() });
  ({ http, admin } = await urls(instance));
  token = readFileSync(join(home, ".tsserve", "token"), "utf8").trim();
}, BUILD_TIMEOUT_MS);

afterAll(cleanup);

describe("tsserve start + deploy/status/config", () => {
  test("start writes the token file readable by the user only", () => {
    expect(token.length).toBeGreaterThanOrEqual(32);
    expect(statSync(join(home, ".tsserve", "token")).mode & 0o777).toBe(0o600);
  });

  test("deploy sends the config, waits, and prints what it deployed", async () => {
    const r = await run(["deploy", "serve.yaml"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('deploying "greet"');
    expect(r.stdout).toContain(`Application "greet": RUNNING at ${http}/greet`);
    expect(await text("/greet/hello/Dora")).toBe("Hello Dora?");
  });

  test("status prints a table, and --json the shape of serve.status()", async () => {
    const t = await run(["status"]);
    expect(t.code).toBe(0);
    expect(t.stdout).not.toContain("\x1b[");
    expect(t.stdout).toContain(`Proxy: HEALTHY at ${http}`);
    expect(t.stdout).toMatch(/greet \/greet\s+RUNNING/);
    expect(t.stdout).toMatch(/ {2}Greeter\s+HEALTHY\s+RUNNING 1/);
    const j = await run(["status", "--json"]);
    const status = JSON.parse(j.stdout);
    expect(Object.keys(status)).toEqual(["proxy", "applications"]);
    expect(status.applications.greet).toMatchObject({ status: "RUNNING", message: "", routePrefix: "/greet" });
    expect(status.applications.greet.deployments.Api).toMatchObject({ status: "HEALTHY", message: "", replicaStates: { RUNNING: 1 } });
  });

  test("config prints the deployed config as YAML, with --name for one app", async () => {
    const all = await run(["config"]);
    expect(all.code).toBe(0);
    const parsed = parseYaml(all.stdout) as any;
    expect(parsed.applications).toEqual([
      { name: "greet", routePrefix: "/greet", importPath: join(dir, "app.ts"), args: {}, deployments: [{ name: "Greeter", userConfig: { punctuation: "?" } }] },
    ]);
    const one = await run(["config", "--name", "greet"]);
    expect((parseYaml(one.stdout) as any).name).toBe("greet");
    const none = await run(["config", "--name", "nope"]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('no application "nope" in the deployed config');
  });

  test("deploy is idempotent; an options change applies in place; a code change replaces replicas", async () => {
    const first = await text("/greet/replica");
    expect((await run(["deploy", "serve.yaml"])).code).toBe(0);
    expect(await text("/greet/replica")).toBe(first);

    writeFileSync(join(dir, "serve.yaml"), config().replace('punctuation: "?"', 'punctuation: "."'));
    expect((await run(["deploy", "serve.yaml"])).code).toBe(0);
    expect(await text("/greet/hello/Dora")).toBe("Hello Dora.");
    expect(await text("/greet/replica")).toBe(first);

    writeFileSync(join(dir, "greet.ts"), "export const greet = (greeting: string, name: string): string => `${greeting}, ${name}`;\n");
    expect((await run(["deploy", "serve.yaml"])).code).toBe(0);
    expect(await text("/greet/hello/Dora")).toBe("Hello, Dora.");
    expect(await text("/greet/replica")).not.toBe(first);
  });

  test("a code change keeps the app answering while its replicas are replaced (rolling)", async () => {
    const answers: string[] = [];
    try {
      for (let round = 0; round < 3; round++) {
        writeFileSync(join(dir, "greet.ts"), `export const greet = (greeting: string, name: string): string => \`\${greeting},${" ".repeat(round + 1)}\${name}\`;\n`);
        let deploying = true;
        const traffic = Array.from({ length: 3 }, async () => {
          while (deploying) {
            const res = await fetch(http + "/greet/hello/Dora");
            answers.push(res.status === 200 ? "200" : `${res.status} ${await res.text()}`);
          }
        });
        const deployed = await run(["deploy", "serve.yaml"]);
        deploying = false;
        await Promise.all(traffic);
        expect(deployed.code).toBe(0);
      }
    } finally {
      // Leave greet.ts as the tests after this one expect it.
      writeFileSync(join(dir, "greet.ts"), "export const greet = (greeting: string, name: string): string => `${greeting}, ${name}`;\n");
      expect((await run(["deploy", "serve.yaml"])).code).toBe(0);
    }
    expect(answers.length).toBeGreaterThan(0);
    expect(answers.filter((a) => a !== "200")).toEqual([]);
    // Four rolling deploys: on a loaded 2-core machine that takes longer than bun:test's default 5 s.
  }, 60_000);

  test("a file.ts target adds one app, or replaces the one of its name, and keeps the others", async () => {
    // Dozens of callers keep the other app busy meanwhile: not one of their requests may fail.
    const answers: string[] = [];
    let deploying = true;
    const traffic = Array.from({ length: 24 }, async () => {
      while (deploying) {
        const res = await fetch(http + "/greet/hello/Dora");
        answers.push(res.status === 200 ? await res.text() : `${res.status} ${await res.text()}`);
      }
    });
    const r = await run(["deploy", "app.ts:withGreeting", "--name", "hola", "--route-prefix", "/hola", "greeting=Hola"]);
    deploying = false;
    await Promise.all(traffic);
    expect(answers.length).toBeGreaterThan(100);
    expect(answers.filter((a) => a !== "Hello, Dora.")).toEqual([]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Keeping "greet"');
    expect(r.stdout).not.toContain("eleting");
    expect(await text("/hola/hello/Dora")).toBe("Hola, Dora!"); // greet.ts as the test above left it
    expect(await text("/greet/hello/Dora")).toBe("Hello, Dora.");
    const again = await run(["deploy", "app.ts:withGreeting", "--name", "hola", "--route-prefix", "/hola", "greeting=Hi"]);
    expect(again.code).toBe(0);
    expect(await text("/hola/hello/Dora")).toBe("Hi, Dora!");
    const status = JSON.parse((await run(["status", "--json"])).stdout);
    expect(Object.keys(status.applications).sort()).toEqual(["greet", "hola"]);
    // The two are the config-deployed set now: `config` lists both.
    expect((parseYaml((await run(["config"])).stdout) as any).applications.map((a: any) => a.name).sort()).toEqual(["greet", "hola"]);
  });

  test("a file.ts target cannot take a route prefix another app keeps", async () => {
    const r = await run(["deploy", "app.ts", "--name", "other", "--route-prefix", "/hola"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('applications[0].routePrefix "/hola" is already used by application "hola" (deployed with a config)');
    expect(await text("/hola/hello/Dora")).toBe("Hi, Dora!");
  });

  test("a config file is declarative: it lists the apps it deletes before it sends, and the API answers them", async () => {
    const r = await run(["deploy", "serve.yaml"]);
    expect(r.code).toBe(0);
    const deleting = r.stdout.indexOf('serve.yaml replaces the applications deployed before: deleting "hola" (not in serve.yaml)');
    expect(deleting).toBeGreaterThanOrEqual(0);
    expect(deleting).toBeLessThan(r.stdout.indexOf("Sent serve.yaml"));
    const status = JSON.parse((await run(["status", "--json"])).stdout);
    expect(Object.keys(status.applications)).toEqual(["greet"]);

    // Through the API: a one-app PUT keeps the rest; a collection PUT names what it deletes.
    const one = { applications: [{ name: "solo", routePrefix: "/solo", importPath: join(dir, "app.ts") }] };
    const put1 = await fetch(`${admin}/api/serve/applications/solo`, { method: "PUT", headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(one) });
    expect(put1.status).toBe(200);
    expect(await put1.json()).toMatchObject({ applications: ["solo"], deleted: [], kept: ["greet"] });
    const wrongName = await fetch(`${admin}/api/serve/applications/other`, { method: "PUT", headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(one) });
    expect(wrongName.status).toBe(400);
    expect(await errorOf(wrongName)).toContain('takes a config of one application named "other"');
    const back = await run(["deploy", "serve.yaml"]);
    expect(back.code).toBe(0);
    expect(back.stdout).toContain('deleting "solo"');
    expect(Object.keys(JSON.parse((await run(["status", "--json"])).stdout).applications)).toEqual(["greet"]);
  });

  test("deploy of a file whose constructor throws fails with where it threw, and leaves the other apps serving", async () => {
    writeFileSync(
      join(dir, "ctorfail.ts"),
      'import { serve } from "tsserve";\nfunction load() { throw new Error("no weights"); }\nexport const app = serve.deployment(class Bad { constructor() { load(); } }).bind();\n',
    );
    const r = await run(["deploy", "ctorfail.ts", "--name", "bad", "--route-prefix", "/bad"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('Keeping "greet"');
    expect(r.stderr).toMatch(/application "bad" failed to deploy: .*Error: no weights at load \(\S*ctorfail\.ts:2:\d+\) < new Bad \(\S*ctorfail\.ts:3:\d+\)/);
    expect(await text("/greet/hello/Dora")).toBe("Hello, Dora.");
    const t = await run(["status"]);
    expect(t.stdout).toMatch(/ {2}Bad\s+DEPLOY_FAILED\s+none \(target 1\)\s+replica failed to start after 3 attempts: Error: no weights at load \(/);
    expect(t.stdout).toMatch(/greet \/greet\s+RUNNING/);
    // The instance's own log has the stack, once.
    expect(instance.stderr.match(/bad\/Bad replica failed to start: Error: no weights/g)).toHaveLength(1);
  });

  test("deploy reports the server's 400 for an app that does not load", async () => {
    const r = await run(["deploy", "app.ts:missing"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('app.ts:missing: applications[0].importPath: ');
    expect(r.stderr).toContain('has no export named "missing"');
  });

  test("the CLI validates a config before sending it", async () => {
    writeFileSync(join(dir, "bad.yaml"), "applications:\n  - importPath: ./app.ts\n    routePrefix: nope\n");
    const r = await run(["deploy", "bad.yaml"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('bad.yaml: applications[0].routePrefix must start with "/", got "nope"');
  });

  test("without the token the CLI says so", async () => {
    const r = await cli(["status", "--address", admin], { cwd: dir, env: cliEnv(tempDir("other-home")) });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("refused the request (401): no token found");
    const wrong = await cli(["status", "--address", admin], { cwd: dir, env: cliEnv(home, { TSSERVE_TOKEN: "wrong-token-but-long-enough" }) });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("(401): the token does not match");
  });

  test("a TSSERVE_TOKEN under 16 characters is refused by the CLI and by start, saying how to fix it", async () => {
    const message = "tsserve: error: TSSERVE_TOKEN is 5 characters long; it must be at least 16.";
    const status = await cli(["status", "--address", admin], { cwd: dir, env: cliEnv(home, { TSSERVE_TOKEN: "wrong" }) });
    expect(status.code).toBe(1);
    expect(status.stderr).toContain(message);
    const start = await cli(["start", "--port", "0", "--admin-port", "0"], { cwd: dir, env: cliEnv(tempDir("short-home"), { TSSERVE_TOKEN: "short" }) });
    expect(start.code).toBe(1);
    expect(start.stderr).toContain(message);
    expect(start.stdout).not.toContain("HTTP proxy at");
  });
});

describe("admin API guards", () => {
  test("401 without a bearer token or with a wrong one, for every method", async () => {
    for (const method of ["GET", "PUT", "DELETE"]) {
      for (const t of [null, "wrong"]) {
        const res = await api({ method, token: t });
        expect(res.status).toBe(401);
        expect(res.headers.get("www-authenticate")).toContain("Bearer");
        expect(await errorOf(res)).toContain("bearer token");
      }
    }
  });

  test("403 for a browser Origin other than the admin's own, for every method, even with the token", async () => {
    for (const method of ["GET", "PUT", "DELETE", "OPTIONS"]) {
      const res = await api({ method, headers: { origin: "https://evil.example" }, body: method === "PUT" ? "{}" : undefined });
      expect(res.status).toBe(403);
    }
    // Still running after the refused DELETE.
    expect((await api()).status).toBe(200);
    expect((await api({ headers: { origin: admin } })).status).toBe(200);
  });

  test("400 with the validation message for bad bodies", async () => {
    const notJson = await api({ method: "PUT", body: "{nope" });
    expect(notJson.status).toBe(400);
    expect(await errorOf(notJson)).toContain("request body: not valid JSON");
    const badKey = await api({ method: "PUT", body: JSON.stringify({ applications: [{ importPath: "/x.ts", colour: 1 }] }) });
    expect(badKey.status).toBe(400);
    expect(await errorOf(badKey)).toBe(
      "request body: applications[0].colour is not a known key; allowed keys in applications[0]: name, routePrefix, importPath, args, deployments",
    );
    const dup = await api({ method: "PUT", body: JSON.stringify({ applications: [{ importPath: "/x.ts" }, { name: "b", importPath: "/y.ts" }] }) });
    expect(dup.status).toBe(400);
    expect(await errorOf(dup)).toContain('applications[1].routePrefix "/" is already the route prefix of applications[0] ("default")');
    const missing = await api({ method: "PUT", body: JSON.stringify({ applications: [{ importPath: join(dir, "nope.ts") }] }) });
    expect(missing.status).toBe(400);
    expect(await errorOf(missing)).toContain("nope.ts: no such file");
  });
});

describe("tsserve shutdown", () => {
  test("without -y and without a yes it changes nothing", async () => {
    const r = await cli(["shutdown", "--address", admin], { cwd: dir, env: env(), stdin: "n\n" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("not confirmed");
    expect((await api()).status).toBe(200);
  });

  test("-y deletes every app and stops the instance, which exits 0", async () => {
    const r = await run(["shutdown", "-y"]);
    expect(r.code).toBe(0);
    expect(await instance.exited()).toBe(0);
    expect(await refuses(http)).toBe(true);
    expect(await refuses(admin)).toBe(true);
  });
});
