/**
 * Single tests that cannot apply on Deno, by their full name ("describe > test"), with the reason:
 * the shim registers them as ignored with it. Whole files are skipped in scripts/test-deno.ts.
 */
const DENO_SYNTAX_ERRORS = "Deno reports a syntax error itself, in its own words and layout (\"SyntaxError: Expression expected\", a ~ under the column, the first error only); the test checks Bun's";

const SAME_TSC = "tsc over the folder init wrote checks its declarations, which are the same whichever runtime wrote them (the Bun run checks them; tens of seconds saved)";

export const SKIPPED_TESTS_ON_DENO: Record<string, string> = {
  "a value kept at its replica for a dropped response is released once the response is collected": "it forces a collection with Bun.gc, which Deno has only behind --expose-gc",
  "chained calls across two nodes: 1,200 requests from 32 clients through both proxies all answer (x + 1) * 2": "it starts the nodes as Bun processes running cmd/tsserve.ts (process.execPath), as bench/cluster_scale.ts does",
  "tsserve init > tsc --noEmit passes in the folder, with nothing but the binary's output": SAME_TSC,
  "tsserve init > a wrong handle call, a wrong bind and a wrong Elysia body fail tsc, each at its line": SAME_TSC,
  "tsserve run: errors that say where > a syntax error prints file:line:column, the line and a caret": DENO_SYNTAX_ERRORS,
  "tsserve run: errors that say where > several syntax errors are each located, in source order": DENO_SYNTAX_ERRORS,
  "tsserve run: errors that say where > under --reload, a syntax error in a saved file is located too, and the old version keeps serving": DENO_SYNTAX_ERRORS,
};
