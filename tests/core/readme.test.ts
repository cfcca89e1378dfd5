// The README's first snippet, pasted into a file in this checkout and run as a newcomer would
// (`bun snippet.ts`, or on Deno `deno run -A snippet.ts`): it prints 12 and exits.
import { expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const repo = new URL("../..", import.meta.url).pathname;

test("the README's first TypeScript snippet prints 12 and exits 0", async () => {
  const snippet = /```ts\n([^]*?)```/.exec(readFileSync(join(repo, "README.md"), "utf8"))?.[1];
  expect(snippet).toContain("console.log");
  // Inside the checkout, so "tsserve" resolves through its tsconfig.json as in examples/.
  const dir = mkdtempSync(join(repo, ".readme-snippet-"));
  try {
    writeFileSync(join(dir, "snippet.ts"), snippet!);
    const args = "Deno" in globalThis ? ["run", "-A", join(dir, "snippet.ts")] : [join(dir, "snippet.ts")];
    const p = spawn(process.execPath, args, { cwd: repo, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.stderr.on("data", (d: Buffer) => (err += d.toString()));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const exited = await Promise.race([
      new Promise<number | null>((resolve) => p.on("close", resolve)),
      new Promise<string>((resolve) => (timer = setTimeout(() => resolve("still running after 30 s"), 30_000))),
    ]);
    clearTimeout(timer);
    if (typeof exited === "string") p.kill();
    // stderr holds the runtime's info records (replicas starting, the app deleted), nothing worse.
    const worse = err.split("\n").filter((l) => l && !l.startsWith("INFO "));
    expect({ exited, out, worse }).toEqual({ exited: 0, out: "12\n", worse: [] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
