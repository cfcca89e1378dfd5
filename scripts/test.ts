// The whole suite: bun:test over tests/, then the compile-only type tests (tsc --noEmit).
// Ends with one line "N passed, N failed" for CI.
const bin = (name: string) => new URL(`../node_modules/.bin/${name}`, import.meta.url).pathname;
const args = process.argv.slice(2);

const test = Bun.spawn([process.execPath, "test", "--timeout", "30000", ...args], {
  stdout: "pipe",
  stderr: "pipe",
  env: { ...process.env, FORCE_COLOR: "0", NO_COLOR: "1" },
});
let output = "";
const pump = async (stream: ReadableStream<Uint8Array>, sink: NodeJS.WriteStream) => {
  const dec = new TextDecoder();
  for await (const chunk of stream) {
    const s = dec.decode(chunk, { stream: true });
    output += s;
    sink.write(s);
  }
};
await Promise.all([pump(test.stdout, process.stdout), pump(test.stderr, process.stderr)]);
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
