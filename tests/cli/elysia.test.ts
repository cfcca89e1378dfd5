/**
 * Elysia ingresses in the binary: an unnamed serve.ingress() deployment is `Ingress` as from
 * source, answers keep Elysia's content type, @elysiajs/cors comes from inside the binary, and a
 * client that closes a generator route costs at most one log line.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUILD_TIMEOUT_MS, binary, cleanup, cli, cliEnv, onDeno, repo, spawnCli, tempDir, urls } from "./helpers.ts";

let home: string;

beforeAll(async () => {
  await binary();
  home = tempDir("home");
}, BUILD_TIMEOUT_MS);

afterAll(cleanup);

/** A folder with no node_modules holding `files`. */
function folder(files: Record<string, string>): string {
  const dir = tempDir("elysia");
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const UNNAMED = `import { Elysia } from "elysia";
import { serve } from "tsserve";
const api = new Elysia().get("/hi/:name", ({ params }) => \`Hi \${params.name}\`).get("/json", () => ({ ok: true }));
export const app = serve.deployment(serve.ingress(api)).bind();
`;

describe("Elysia in the binary", () => {
  test("an unnamed serve.ingress(app) deployment is Ingress, and a string route is text/plain", async () => {
    const dir = folder({ "app.ts": UNNAMED });
    await using r = await spawnCli(["run", "app.ts", "--port", "0", "--admin-port", "0"], { cwd: dir, env: cliEnv(home) });
    const { http, admin } = await urls(r);
    expect(r.stdout).toMatch(/default\/Ingress: 1\/1 replicas ready/);
    const text = await fetch(`${http}/hi/Dora`);
    // Elysia's own types: its Bun adapter adds the charset, its web-standard one (Deno) does not.
    expect(text.headers.get("content-type")).toBe(onDeno ? "text/plain" : "text/plain;charset=utf-8");
    expect(await text.text()).toBe("Hi Dora");
    const json = await fetch(`${http}/json`);
    expect(json.headers.get("content-type")).toBe(onDeno ? "application/json" : "application/json;charset=utf-8");
    expect(await json.json()).toEqual({ ok: true });
    const s = await cli(["status", "--json", "--address", admin], { cwd: dir, env: cliEnv(home) });
    expect(Object.keys(JSON.parse(s.stdout).applications.default.deployments)).toEqual(["Ingress"]);
  });

  test("@elysiajs/cors comes from the binary: the allowed origin gets the headers, another does not", async () => {
    const dir = tempDir("cors");
    cpSync(join(repo, "examples/cors.ts"), join(dir, "cors.ts"));
    await using r = await spawnCli(["run", "cors.ts", "--port", "0", "--admin-port", "0"], { cwd: dir, env: cliEnv(home) });
    const { http } = await urls(r);
    const page = "http://localhost:5173";
    const allowed = await fetch(`${http}/time`, { headers: { origin: page } });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get("access-control-allow-origin")).toBe(page);
    const preflight = await fetch(`${http}/ticks`, { method: "OPTIONS", headers: { origin: page, "access-control-request-method": "GET" } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe(page);
    const other = await fetch(`${http}/time`, { headers: { origin: "http://elsewhere.example" } });
    expect(other.status).toBe(200);
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
  });

  test("a client that closes a generator route logs at most one line, and no stack", async () => {
    const dir = folder({
      "ticks.ts": `import { Elysia } from "elysia";
import { serve, type DeploymentHandle } from "tsserve";
export const Ticker = serve.deployment(class Ticker {
  async tick(i: number) {
    await new Promise((r) => setTimeout(r, 20));
    return \`tick \${i}\\n\`;
  }
});
// Each item waits on a downstream call, which the closed client cancels mid-wait.
export const app = serve.deployment(serve.ingress((ticker: DeploymentHandle<typeof Ticker>) => new Elysia()
  .get("/ticks", async function* () {
    try {
      for (let i = 0; ; i++) yield await ticker.tick.remote(i);
    } finally {
      console.error("marker: generator ended");
    }
  })
  .get("/mark", () => {
    console.error("marker: after");
    return "ok";
  }))).bind(Ticker.bind());
`,
    });
    // warn: the access log and replica starts (info) would add lines of their own to count.
    await using r = await spawnCli(["run", "ticks.ts", "--port", "0", "--admin-port", "0"], { cwd: dir, env: cliEnv(home, { TSSERVE_LOG_LEVEL: "warn" }) });
    const { http } = await urls(r);
    const before = r.stderr.length;
    /** Opens the route, reads its first item, and goes away. */
    const openAndClose = async () => {
      const ac = new AbortController();
      const res = await fetch(`${http}/ticks`, { signal: ac.signal });
      const reader = res.body!.getReader();
      const first = new TextDecoder().decode((await reader.read()).value);
      ac.abort();
      await reader.read().catch(() => {});
      return first;
    };
    // One at a time, then 40 clients at once.
    for (let i = 0; i < 3; i++) expect(await openAndClose()).toStartWith("tick 0");
    const firsts = await Promise.all(Array.from({ length: 40 }, openAndClose));
    expect(firsts.filter((f) => !f.startsWith("tick 0"))).toEqual([]);
    const closes = 43;
    await r.waitForCount("marker: generator ended", closes);
    // Whatever the replica logs about the closes comes before this line (same thread, later request).
    expect(await (await fetch(`${http}/mark`)).text()).toBe("ok");
    await r.waitFor(/marker: after/);
    const lines = r.stderr.slice(before).split("\n").filter((l) => l.trim() && !l.includes("marker: "));
    expect(lines.length, lines.join("\n")).toBeLessThanOrEqual(closes);
    expect(lines.filter((l) => /^\s+at /.test(l))).toEqual([]);
  });
});
