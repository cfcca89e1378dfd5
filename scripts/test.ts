// The whole suite: bun:test over tests/, then the compile-only type tests (tsc --noEmit).
// Ends with one line "N passed, N failed" for CI. What tests log on purpose is shown only
// for failing tests (scripts/quiet.ts); --verbose (npm test -- --verbose) shows everything.
import { QuietOutput } from "./quiet.ts";

const bin = (name: string) => new URL(`../node_modules/.bin/${name}`, import.meta.url).pathname;
const verbose = process.argv.includes("--verbose") || process.env.TSSERVE_TEST_VERBOSE === "1";
const args = process.argv.slice(2).filter((a) => a !== "--verbose");

const test = Bun.spawn([process.execPath, "test", "--timeout", "30000", ...args], {
  stdout: "pipe",
  stderr: "pipe",
  env: { ...process.env, FORCE_COLOR: "0", NO_COLOR: "1" },
});
let output = "";
const quiet = new QuietOutput((line) => process.stderr.write(`${line}\n`));
const pump = async (stream: ReadableStream<Uint8Array>, sink: NodeJS.WriteStream) => {
  const dec = new TextDecoder();
  let partial = "";
  for await (const chunk of stream) {
    const s = dec.decode(chunk, { stream: true });
    output += s;
    if (verbose) {
      sink.write(s);
      continue;
    }
    const lines = (partial + s).split("\n");
    partial = lines.pop()!;
    for (const l of lines) quiet.line(l);
  }
  if (partial && !verbose) quiet.line(partial);
};
await Promise.all([pump(test.stdout, process.stdout), pump(test.stderr, process.stderr)]);
const hidden = verbose ? 0 : quiet.end();
if (hidden) console.log(`(${hidden} lines that passing tests logged on purpose are hidden; npm test -- --verbose shows them)`);
const testCode = await test.exited;
// bun test's own summary lines: " 166 pass" and " 0 fail", alone on their lines.
const last = (re: RegExp) => Number([...output.matchAll(re)].at(-1)?.[1] ?? 0);
let passed = last(/^\s*(\d+) pass$/gm);
let failed = last(/^\s*(\d+) fail$/gm);
if (testCode !== 0 && failed === 0) failed = 1;

if (args.length === 0) {
  console.log("\ntype tests: tsc --noEmit");
  const tsc = Bun.spawnSync([bin("tsc"), "--noEmit", "-p", "."], { stdout: "inherit", stderr: "inherit" });
  if (tsc.exitCode === 0) passed++;
  else failed++;
}

console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
