// The whole suite: bun:test over tests/, then the compile-only type tests (tsc --noEmit), then
// the same tests on Deno (scripts/test-deno.ts). Ends with one line "N passed, N failed" for CI,
// counting both runtimes. What tests log on purpose is shown only for failing tests
// (scripts/quiet.ts; on Deno, its ERRORS section); --verbose (npm test -- --verbose) shows everything.
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
const [bunPassed, bunFailed] = [passed, failed];

if (args.length === 0) {
  console.log("\ntype tests: tsc --noEmit");
  const tsc = Bun.spawnSync([bin("tsc"), "--noEmit", "-p", "."], { stdout: "inherit", stderr: "inherit" });
  if (tsc.exitCode === 0) passed++;
  else failed++;

  console.log("\nthe same tests on Deno: scripts/test-deno.ts");
  const deno = Bun.spawn([bin("deno"), "run", "-A", "scripts/test-deno.ts"], { stdout: "pipe", stderr: "inherit", env: { ...process.env, NO_COLOR: "1" } });
  let denoOutput = "";
  const dec = new TextDecoder();
  for await (const chunk of deno.stdout) {
    const s = dec.decode(chunk, { stream: true });
    denoOutput += s;
    if (verbose) process.stdout.write(s);
  }
  const denoCode = await deno.exited;
  if (!verbose) {
    // Deno's failures come in its ERRORS/FAILURES sections, after every test's line; keep those,
    // the failed tests' lines and the skip reasons.
    const errorsAt = denoOutput.indexOf("\n ERRORS \n");
    const head = (errorsAt < 0 ? denoOutput : denoOutput.slice(0, errorsAt)).split("\n").filter((l) => /^skipped on Deno|\.\.\. FAILED/.test(l));
    console.log([...head, errorsAt < 0 ? "" : denoOutput.slice(errorsAt)].join("\n").trimEnd());
    if (errorsAt < 0) console.log(denoOutput.split("\n").filter((l) => /^(ok|FAILED) \||^Deno: /.test(l)).join("\n"));
  }
  const denoSummary = [...denoOutput.matchAll(/^(\d+) passed, (\d+) failed$/gm)].at(-1);
  passed += Number(denoSummary?.[1] ?? 0);
  failed += Number(denoSummary?.[2] ?? 0);
  if (denoCode !== 0 && Number(denoSummary?.[2] ?? 0) === 0) failed++;
  console.log(`\nBun: ${bunPassed} passed, ${bunFailed} failed; Deno: ${denoSummary?.[1] ?? 0} passed, ${denoSummary?.[2] ?? "?"} failed`);
}

console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
