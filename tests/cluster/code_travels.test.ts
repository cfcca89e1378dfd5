/**
 * Code travels with the deployment: once deployed, an application's files may change or go, and
 * every replica started later, on any node, runs the code that was deployed (each node imports
 * its copy of the stored code version).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cleanup } from "../cli/helpers.ts";
import { Cluster, startCluster } from "./cluster.ts";

let cluster: Cluster;
const dir = mkdtempSync(join(tmpdir(), "tsserve-code-travels-"));

beforeAll(async () => {
  cluster = await startCluster(2);
}, 60_000);

afterAll(async () => {
  await cluster?.[Symbol.asyncDispose]();
  rmSync(dir, { recursive: true, force: true });
  await cleanup();
});

test("replicas started after the files changed and were removed, on another node, run the deployed code", async () => {
  writeFileSync(join(dir, "word.ts"), `export const word = "deployed";\n`);
  writeFileSync(
    join(dir, "app.ts"),
    `import { serve } from "tsserve";\nimport { word } from "./word.ts";\n` +
      `export const Word = serve.deployment(class Word { call() { return { word, pid: process.pid }; } });\nexport const app = Word.bind();\n`,
  );
  const errors = await cluster.apply({ applications: [{ name: "words", routePrefix: "/words", importPath: join(dir, "app.ts"), deployments: [{ name: "Word", numReplicas: 2, maxReplicasPerNode: 1 }] }] });
  expect(errors).toEqual({});
  const s = await cluster.until("words RUNNING", (st) => st.applications.words?.status === "RUNNING");
  const nodes = s.applications.words!.deployments.Word!.replicas.map((r) => r.node!);
  const victim = cluster.workers.find((w) => nodes.includes(w.id))!;
  const spare = cluster.nodes.find((n) => !nodes.includes(n.id))!;
  expect(victim).toBeDefined();

  // The files change, then go: what runs from now on can only come from the stored version.
  writeFileSync(join(dir, "word.ts"), `export const word = "changed";\n`);
  rmSync(join(dir, "app.ts"));
  rmSync(join(dir, "word.ts"));
  victim.proc.proc.kill("SIGKILL");
  const replaced = await cluster.until(
    "a replacement on the spare node",
    (st) => {
      const rs = st.applications.words?.deployments.Word?.replicas ?? [];
      return rs.length === 2 && rs.every((r) => r.state === "RUNNING") && rs.some((r) => r.node === spare.id);
    },
    30_000,
  );
  expect(replaced.applications.words!.deployments.Word!.replicas.map((r) => r.node).sort()).not.toContain(victim.id);
  const live = cluster.nodes.filter((n) => n !== victim);
  const answers = await Promise.all(
    Array.from({ length: 40 }, async (_, i) => (await (await fetch(`${live[i % live.length]!.http}/words/`)).json()) as { word: string; pid: number }),
  );
  expect(new Set(answers.map((a) => a.word))).toEqual(new Set(["deployed"]));
  // The spare node's replica answered some of them.
  expect(answers.some((a) => a.pid === spare.pid)).toBe(true);
}, 90_000);
