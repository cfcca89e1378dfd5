import { expect, test } from "bun:test";
import { QuietOutput } from "../../scripts/quiet.ts";

const run = (lines: string[]) => {
  const shown: string[] = [];
  const q = new QuietOutput((l) => shown.push(l));
  for (const l of lines) q.line(l);
  return { shown, hidden: q.end() };
};

test("what a passing test logs is hidden; bun's reports and summary stay", () => {
  const { shown, hidden } = run([
    "bun test v1.4.5",
    "",
    "tests/a.test.ts:",
    "[tsserve] request 1 to app: Error: expected",
    "    at fetch (/x/app.ts:1:1)",
    "(pass) a > logs an expected error [3ms]",
    "(pass) a > quiet [1ms]",
    " 2 pass",
    " 0 fail",
    "Ran 2 tests across 1 file. [1s]",
  ]);
  expect(shown).toEqual(["bun test v1.4.5", "", "tests/a.test.ts:", "(pass) a > logs an expected error [3ms]", "(pass) a > quiet [1ms]", " 2 pass", " 0 fail", "Ran 2 tests across 1 file. [1s]"]);
  expect(hidden).toBe(2);
});

test("a failing test's logs and bun's failure report are shown, before its (fail) line", () => {
  const { shown } = run([
    "tests/a.test.ts:",
    "noise of a passing test",
    "(pass) a > ok [1ms]",
    "[tsserve] the log that explains the failure",
    "error: expect(received).toBe(expected)",
    "(fail) a > broken [2ms]",
    "(pass) a > after [1ms]",
  ]);
  expect(shown).toEqual([
    "",
    "tests/a.test.ts:",
    "(pass) a > ok [1ms]",
    "[tsserve] the log that explains the failure",
    "error: expect(received).toBe(expected)",
    "(fail) a > broken [2ms]",
    "(pass) a > after [1ms]",
  ]);
});

test("an error between tests is shown whole, even when a test passes after it", () => {
  const { shown } = run(["# Unhandled error between tests", "-----", "error: boom", "-----", "(pass) b > next [1ms]", " 1 pass", " 1 error"]);
  expect(shown).toEqual(["# Unhandled error between tests", "-----", "error: boom", "-----", "(pass) b > next [1ms]", " 1 pass", " 1 error"]);
});

test("under load: thousands of lines through the filter keep their order", () => {
  const lines: string[] = [];
  for (let i = 0; i < 2000; i++) lines.push(`log ${i}`, i % 100 === 99 ? `(fail) t${i}` : `(pass) t${i}`);
  const { shown, hidden } = run(lines);
  expect(shown.filter((l) => l.startsWith("(")).length).toBe(2000);
  expect(shown.filter((l) => l.startsWith("log"))).toEqual(Array.from({ length: 20 }, (_, k) => `log ${k * 100 + 99}`));
  expect(hidden).toBe(1980);
  expect(shown.indexOf("log 99")).toBe(shown.indexOf("(fail) t99") - 1);
});
