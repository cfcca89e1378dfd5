// The README's first snippet, pasted into a file in this checkout and run with Bun as a newcomer
// would: it prints 12 and exits.
import { expect, test } from "bun:test";
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
    const p = Bun.spawn([process.execPath, join(dir, "snippet.ts")], { cwd: repo, stdout: "pipe", stderr: "pipe" });
    const exited = await Promise.race([p.exited, Bun.sleep(30_000).then(() => "still running after 30 s")]);
    if (typeof exited === "string") p.kill();
    const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
    // stderr holds the runtime's info records (replicas starting, the app deleted), nothing worse.
    const worse = err.split("\n").filter((l) => l && !l.startsWith("INFO "));
    expect({ exited, out, worse }).toEqual({ exited: 0, out: "12\n", worse: [] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
