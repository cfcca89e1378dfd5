/**
 * Single tests that cannot apply on Deno, by their full name ("describe > test"), with the reason:
 * the shim registers them as ignored with it. Whole files are skipped in scripts/test-deno.ts.
 */
export const SKIPPED_TESTS_ON_DENO: Record<string, string> = {
  "a value kept at its replica for a dropped response is released once the response is collected": "it forces a collection with Bun.gc, which Deno has only behind --expose-gc",
  "chained calls across two nodes: 1,200 requests from 32 clients through both proxies all answer (x + 1) * 2": "it starts the nodes as Bun processes running cmd/tsserve.ts (process.execPath), as bench/cluster_scale.ts does",
};
