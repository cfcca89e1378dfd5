// On Deno the code version and --reload see the files an application loaded by following its
// relative imports (runtime/platform/deno/modules.ts): pure file reading, so tested on both runtimes.
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { moduleGraph } from "../../runtime/platform/deno/modules.ts";

const dir = mkdtempSync(join(tmpdir(), "tsserve-graph-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("follows static, re-exported and literal dynamic relative imports, once each, and no packages", () => {
  mkdirSync(join(dir, "lib"));
  mkdirSync(join(dir, "node_modules", "pkg"), { recursive: true });
  const files: Record<string, string> = {
    "app.ts": `import { serve } from "tsserve";\nimport { a } from "./lib/a.ts";\nimport type { T } from "./lib/types.ts";\nexport * from "./lib/b.ts";\nconst c = await import("./lib/c.ts");\nimport "./node_modules/pkg/index.ts";\nimport x from "npm:left-pad";\n`,
    "lib/a.ts": `export { b } from "./b.ts";\nexport const a = 1;\n`,
    "lib/b.ts": `import { a } from "./a.ts";\nexport const b = 2;\n`,
    "lib/c.ts": `export const c = 3;\n`,
    "lib/types.ts": `export type T = number;\n`,
    "lib/unused.ts": `export const u = 0;\n`,
    "node_modules/pkg/index.ts": `export {};\n`,
  };
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const graph = moduleGraph(join(dir, "app.ts")).map((f) => f.slice(dir.length + 1));
  expect(graph).toEqual(["app.ts", "lib/a.ts", "lib/types.ts", "lib/b.ts", "lib/c.ts"]);
});

test("a missing import is left out, not an error", () => {
  writeFileSync(join(dir, "lonely.ts"), `import { gone } from "./gone.ts";\n`);
  expect(moduleGraph(join(dir, "lonely.ts")).map((f) => f.slice(dir.length + 1))).toEqual(["lonely.ts"]);
});
