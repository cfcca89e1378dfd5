// The tsserve CLI on Deno (`deno task start` is `deno run -A cmd/tsserve.ts run examples/hello.ts`):
// a module and a YAML config served, SIGTERM drains and exits 0. Spawned with node:child_process,
// so this file runs under either runtime; the Deno is the one `npm install` brings.
import { afterAll, describe, expect, test } from "bun:test";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const repo = new URL("../..", import.meta.url).pathname;
const deno = join(repo, "node_modules/.bin/deno");
const home = mkdtempSync(join(tmpdir(), "tsserve-deno-cli-"));
const children = new Set<ChildProcess>();

afterAll(() => {
  for (const c of children) c.kill("SIGKILL");
  rmSync(home, { recursive: true, force: true });
});

/** `deno run -A cmd/tsserve.ts run <target>` on free ports; resolves with its URL once it prints it. */
async function run(target: string): Promise<{ url: string; output: () => string; stop: () => Promise<number | null> }> {
  const child = spawn(deno, ["run", "-A", "cmd/tsserve.ts", "run", target, "--port", "0", "--admin-port", "0"], {
    cwd: repo,
    env: { ...process.env, HOME: home, NO_COLOR: "1", TSSERVE_TOKEN: undefined },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let out = "";
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "is RUNNING at" within 60 s; output:\n${out}`)), 60_000);
    const seen = (d: Buffer) => {
      out += d.toString();
      const m = /is RUNNING at (http:\/\/[\d.]+:\d+)\//.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on("data", seen);
    child.stderr!.on("data", seen);
    void exited.then((code) => reject(new Error(`exited ${code} before serving; output:\n${out}`)));
  });
  return {
    url,
    output: () => out,
    async stop() {
      child.kill("SIGTERM");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const code = await Promise.race([exited, new Promise<"late">((r) => (timer = setTimeout(() => r("late"), 20_000)))]);
      clearTimeout(timer);
      children.delete(child);
      if (code === "late") throw new Error(`did not stop within 20 s after SIGTERM; output:\n${out}`);
      return code;
    },
  };
}

const post = (url: string, body: unknown) => fetch(url, { method: "POST", body: JSON.stringify(body) });

describe("tsserve on Deno", () => {
  test("serves examples/hello.ts (Hola Dora), and SIGTERM stops it with exit 0", async () => {
    const s = await run("examples/hello.ts");
    const res = await post(`${s.url}/`, { language: "spanish", name: "Dora" });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("Hola Dora");
    expect(await s.stop()).toBe(0);
    expect(s.output()).toContain("Stopped.");
  }, 90_000);

  test("serves a YAML config with two apps, a builder and overrides", async () => {
    const s = await run("examples/config.yaml");
    try {
      expect(await (await post(`${s.url}/`, { language: "spanish", name: "Dora" })).text()).toBe("Hola Dora");
      expect(await (await post(`${s.url}/calc`, { x: 5 })).json()).toEqual({ result: 18 });
    } finally {
      expect(await s.stop()).toBe(0);
    }
  }, 90_000);
});
