// The test suite on Deno: the same test files as on Bun, through tests/deno/bun_test.ts (deno.json
// maps "bun:test" there). `deno task test [files...]`; ends with one line "N passed, N failed".
// Runs under Deno or Bun (npm test starts it with node_modules/.bin/deno).
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;

/** Test files that cannot apply on Deno, with the reason (printed, and counted as skipped). */
export const SKIPPED_ON_DENO: Record<string, string> = {
  "tests/cli/binary.test.ts": "it runs the binary `bun build --compile` makes (Bun's CLI, built through Bun.spawn)",
  "tests/cli/build.test.ts": "it drives `bun cmd/tsserve.ts build` through Bun.spawn (tests/cli/helpers.ts)",
  "tests/cli/instance.test.ts": "it drives `bun cmd/tsserve.ts run/start/deploy/...` through Bun.spawn (tests/cli/helpers.ts)",
  "tests/cli/deno.test.ts": "it spawns the Deno CLI whichever runtime runs it, and the Bun run (npm test) already does",
};

function testFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...testFiles(p));
    else if (e.name.endsWith(".test.ts")) out.push(relative(root, p));
  }
  return out.sort();
}

const given = process.argv.slice(2);
const all = given.length ? given : testFiles(join(root, "tests"));
const files = all.filter((f) => !(f in SKIPPED_ON_DENO));
for (const f of all) if (f in SKIPPED_ON_DENO) console.log(`skipped on Deno: ${f}: ${SKIPPED_ON_DENO[f]}`);

const deno = "Deno" in globalThis ? process.execPath : join(root, "node_modules/.bin/deno");
// --no-check: the sources are type-checked by tsc against Bun's types (npm test); Deno strips them.
const child = spawn(deno, ["test", "-A", "--no-check", ...files], { cwd: root, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
let output = "";
child.stdout.on("data", (d: Buffer) => {
  output += d.toString();
  process.stdout.write(d);
});
child.stderr.on("data", (d: Buffer) => {
  output += d.toString();
  process.stderr.write(d);
});
const code: number = await new Promise((resolve) => child.on("close", (c: number | null) => resolve(c ?? 1)));

// Deno's summary: "ok | 120 passed | 0 failed | 3 ignored (38s)" (or "FAILED | ...").
const summary = [...output.matchAll(/^(?:ok|FAILED) \| (\d+) passed(?: \((\d+) steps?\))? \| (\d+) failed/gm)].at(-1);
const passed = Number(summary?.[1] ?? 0);
let failed = Number(summary?.[3] ?? 0);
if (code !== 0 && failed === 0) failed = 1;
console.log(`\nDeno: ${passed} passed, ${failed} failed (${Object.keys(SKIPPED_ON_DENO).filter((f) => all.includes(f)).length} files skipped on Deno, named above)`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
