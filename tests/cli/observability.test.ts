/**
 * Observability in the compiled binary: JSON log records on stderr (replica code's with request
 * ids, and the access log), GET /metrics, the dashboard's assets from inside the binary, and
 * `tsserve dashboard`.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { binary, cleanup, cli, cliEnv, spawnCli, tempDir, urls } from "./helpers.ts";
import { parseMetrics, total } from "../metrics/parse.ts";

let home: string;

beforeAll(async () => {
  await binary();
  home = tempDir("home");
}, 60_000);

afterAll(cleanup);

const APP = `
import { serve, type DeploymentHandle } from "tsserve";
const greeted = new serve.metrics.Counter({ name: "app_greetings_total", help: "Greetings", labelNames: ["lang"] });
export const Greeter = serve.deployment(class Greeter {
  call(name: string) {
    greeted.inc({ lang: "en" });
    console.log("greeting " + name);
    return "Hello " + name;
  }
});
export const Api = serve.deployment(class Api {
  constructor(private greeter: DeploymentHandle<typeof Greeter>) {}
  async fetch(req: Request) {
    return await this.greeter.remote(new URL(req.url).pathname.slice(1));
  }
});
export const app = Api.bind(Greeter.bind());
`;

describe("tsserve binary: observability", () => {
  test("--log-format json: replica console lines and access records are JSON with request ids; /metrics and the dashboard answer", async () => {
    const dir = tempDir("obs");
    writeFileSync(join(dir, "app.ts"), APP);
    const token = "obs-token-0123456789abcdef";
    await using r = await spawnCli(["run", "app.ts", "--port", "0", "--admin-port", "0", "--log-format", "json"], { cwd: dir, env: cliEnv(home, { TSSERVE_TOKEN: token }) });
    const { http, admin } = await urls(r);
    expect((await r.waitFor(/Dashboard at (\S+)/))[1]).toBe(`${admin}/#token=${token}`);
    for (const name of ["Ada", "Bo"]) {
      const res = await fetch(`${http}/${name}`, { headers: { "x-request-id": `obs-${name}` } });
      expect(await res.text()).toBe(`Hello ${name}`);
    }
    await r.waitFor(/"requestId":"obs-Bo".*"status":200/);
    const records = r.stderr
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l));
    const greeting = records.find((x) => x.msg === "greeting Ada");
    expect(greeting).toMatchObject({ level: "info", application: "default", deployment: "Greeter", requestId: "obs-Ada", route: "/" });
    expect(greeting.time).toBeNumber();
    expect(greeting.replica).toStartWith("default#Greeter#");
    const access = records.find((x) => x.requestId === "obs-Ada" && x.status !== undefined);
    expect(access).toMatchObject({ level: "info", method: "GET", route: "/", path: "/Ada", status: 200, application: "default" });
    expect(access.latencyMs).toBeGreaterThan(0);
    // Under load (40 callers, 1,000 requests, each logging in its replica and in the access log),
    // every stderr line is still one whole record: one thread writes them all.
    await Promise.all(
      Array.from({ length: 40 }, async (_, c) => {
        for (let i = 0; i < 25; i++) await (await fetch(`${http}/n${c}x${i}`, { headers: { "x-request-id": `load-${c}-${i}` } })).text();
      }),
    );
    // Every record, not the last caller's last one: 40 callers finish in any order.
    await r.waitForCount('"status":200', 1002);
    await r.waitForCount('"msg":"greeting n', 1000);
    const lines = r.stderr.split("\n").filter(Boolean);
    const parsed = lines.map((l) => JSON.parse(l));
    expect(parsed.filter((x) => typeof x.requestId === "string" && x.requestId.startsWith("load-") && x.status === 200)).toHaveLength(1000);
    expect(parsed.filter((x) => typeof x.msg === "string" && x.msg.startsWith("greeting n"))).toHaveLength(1000);

    expect((await fetch(`${admin}/metrics`)).status).toBe(401);
    const metrics = await fetch(`${admin}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    const samples = parseMetrics(await metrics.text());
    expect(total(samples, "tsserve_num_http_requests_total", { application: "default", status_code: "200" })).toBe(1002);
    expect(total(samples, "app_greetings_total", { lang: "en", deployment: "Greeter" })).toBe(1002);

    // The dashboard and its chart library come from inside the binary.
    const page = await fetch(`${admin}/`);
    expect(page.headers.get("content-type")).toStartWith("text/html");
    expect(await page.text()).toContain('<script src="/dashboard/uPlot.js"></script>');
    const uplot = await fetch(`${admin}/dashboard/uPlot.js`);
    expect(uplot.status).toBe(200);
    expect(await uplot.text()).toContain("uPlot");
    const data = await fetch(`${admin}/api/dashboard`, { headers: { authorization: `Bearer ${token}` } });
    expect(((await data.json()) as { status: { applications: Record<string, { status: string }> } }).status.applications.default!.status).toBe("RUNNING");

    const printed = await cli(["dashboard", "--address", admin], { cwd: dir, env: cliEnv(home, { TSSERVE_TOKEN: token }) });
    expect(printed.code).toBe(0);
    expect(printed.stdout.trim()).toBe(`${admin}/#token=${token}`);
  }, 60_000);

  test("text logs by default: LEVEL time application/deployment replica request_id message", async () => {
    const dir = tempDir("obs-text");
    writeFileSync(join(dir, "app.ts"), APP);
    await using r = await spawnCli(["run", "app.ts", "--port", "0", "--admin-port", "0"], { cwd: dir, env: cliEnv(home) });
    const { http } = await urls(r);
    await (await fetch(`${http}/Cy`, { headers: { "x-request-id": "obs-Cy" } })).text();
    const m = await r.waitFor(/^INFO \S+Z default\/Greeter default#Greeter#\S+ obs-Cy greeting Cy$/m);
    expect(m[0]).toMatch(/^INFO \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /);
    await r.waitFor(/^INFO \S+Z default obs-Cy GET \/Cy 200 [\d.]+ms$/m);
  }, 60_000);
});
