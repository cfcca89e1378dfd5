// The test suite on Deno: the same test files as on Bun, through tests/deno/bun_test.ts (deno.json
// maps "bun:test" there). `deno task test [files...]`; ends with one line "N passed, N failed".
// Runs under Deno or Bun (npm test starts it with node_modules/.bin/deno).
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;

/** Test files that cannot apply on Deno, with the reason (printed, and counted as skipped). */
export const SKIPPED_ON_DENO: Record<string, string> = {
  "tests/cli/binary.test.ts": "it tests the binary `bun build --compile` makes, alone in a folder; on Deno the CLI tests run `deno run -A cmd/tsserve.ts` instead (no Deno binary: README, deno task build)",
  "tests/cli/deno.test.ts": "it spawns the Deno CLI whichever runtime runs it, and the Bun run (npm test) already does",
  "tests/core/elysia.test.ts": "its baseline, Elysia alone on Deno.serve, answers /redirect with 500 and breaks off generator bodies (Elysia 1.4's web-standard adapter), and its event-stream fixtures answer `new Response(asyncGenerator)`, a body only Bun accepts",
  "tests/core/errors.test.ts": "it checks Bun.YAML's and Bun's build errors, and V8 names frames otherwise on Deno (Caller.misspelt, file:// URLs)",
  "tests/core/http_edges.test.ts": "it tests Bun.serve's own edges (idle timeout, Host-less HTTP/1.x) and its replicas pace with Bun.sleep",
  "tests/websocket/binary.test.ts": "it tests the binary `bun build --compile` makes, alone in a folder (as tests/cli/binary.test.ts)",
};

/** Folders whose every file cannot apply on Deno. */
export const SKIPPED_DIRS_ON_DENO: Record<string, string> = {
  "tests/cluster/": "each node is a `bun cmd/tsserve.ts start --cluster` process started with Bun.spawn (tests/cli/helpers.ts); the nodes themselves are Bun",
};

/** Files of those folders that run on Deno all the same. */
const RUN_ON_DENO = new Set([
  "tests/cluster/control_simulation.test.ts", // one process: its nodes and NATS are simulated
]);

const skipReason = (f: string): string | undefined =>
  RUN_ON_DENO.has(f) ? undefined : (SKIPPED_ON_DENO[f] ?? Object.entries(SKIPPED_DIRS_ON_DENO).find(([dir]) => f.startsWith(dir))?.[1]);

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
const files = all.filter((f) => skipReason(f) === undefined);
const skipped = all.filter((f) => skipReason(f) !== undefined);
for (const f of skipped) console.log(`skipped on Deno: ${f}: ${skipReason(f)}`);

const deno = "Deno" in globalThis ? process.execPath : join(root, "node_modules/.bin/deno");
// --no-check: the sources are type-checked by tsc against Bun's types (npm test); Deno strips them.
// --expose-gc: memory tests collect garbage before they measure (tests/harness.ts).
const child = spawn(deno, ["test", "-A", "--no-check", "--v8-flags=--expose-gc", ...files], { cwd: root, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
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
console.log(`\nDeno: ${passed} passed, ${failed} failed (${skipped.length} files skipped on Deno, named above)`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
