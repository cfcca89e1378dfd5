/**
 * Errors that say where: a constructor's error keeps the user's first frames in the status
 * message; an unknown handle method's error starts at the caller's line; "did you mean" for
 * options; YAML errors located by line and column.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "tsserve";
import { closest } from "../../sdk/suggest.ts";
import { importErrorText } from "../../runtime/admin/source-error.ts";
import { yamlErrorPosition } from "../../runtime/admin/yaml-position.ts";
import { Caller, NoWeights, Target } from "../fixtures/where.ts";
import { rejection, startServe, thrown } from "../harness.ts";

afterAll(() => serve.shutdown());

describe("a replica that fails to start", () => {
  test("the status message holds the error and the user's first frames, not tsserve's", async () => {
    await using _ = await startServe();
    const err = await rejection(serve.run(NoWeights.bind(), { name: "noweights", routePrefix: null }));
    expect(err.message).toContain("weights.bin is missing");
    const d = (await serve.status()).applications.noweights!.deployments.NoWeights!;
    expect(d.status).toBe("DEPLOY_FAILED");
    expect(d.message).toMatch(/^replica failed to start after 3 attempts: Error: weights\.bin is missing at loadWeights \(\S+\/tests\/fixtures\/where\.ts:5:\d+\) < new NoWeights \(\S+\/tests\/fixtures\/where\.ts:10:\d+\)$/);
    expect(d.message).not.toContain("runtime/");
  });
});

describe("an unknown handle method", () => {
  test("rejects with ServeError whose stack starts at the caller's line", async () => {
    await using _ = await startServe();
    const h = await serve.run(Caller.bind(Target.bind()), { name: "where", routePrefix: null });
    const err = await rejection(h.misspelt.remote());
    expect(err.name).toBe("ServeError");
    expect(err.message).toContain('has no method "helo" (did you mean "hello"?); available methods: hello');
    const frames = err.stack!.split("\n").slice(1);
    expect(frames[0]).toMatch(/^\s+at misspelt \(\S+\/tests\/fixtures\/where\.ts:27:\d+\)$/);
    expect(err.stack).toContain("--- in the replica ---");
    // The same method name, called again, fails the same way; a method that exists is unaffected.
    expect((await rejection(h.misspelt.remote())).stack!.split("\n")[1]).toMatch(/where\.ts:27:/);
    expect(await h.right.remote()).toBe("hi");
  });

  test("under load: hundreds of calls through one handle, good and misspelt mixed, each answered right", async () => {
    await using _ = await startServe();
    const h = await serve.run(Caller.bind(Target.bind()), { name: "where", routePrefix: null });
    const results = await Promise.allSettled(Array.from({ length: 600 }, (_, i) => (i % 3 ? h.right.remote() : h.misspelt.remote())));
    results.forEach((r, i) => {
      if (i % 3) expect(r).toEqual({ status: "fulfilled", value: "hi" });
      else expect(r.status === "rejected" && (r.reason as Error).stack!.split("\n")[1]).toMatch(/where\.ts:27:/);
    });
  });
});

describe("did you mean", () => {
  test("serve.deployment() suggests the option meant", () => {
    expect(thrown(() => serve.deployment(class A {}, { numReplica: 2 } as any)).message).toStartWith(
      'unknown deployment option "numReplica" (did you mean "numReplicas"?); known options: ',
    );
    expect(thrown(() => serve.deployment(class A {}, { autoscalingConfig: { maxReplica: 2 } } as any)).message).toContain('(did you mean "maxReplicas"?)');
  });

  test("a suggestion only when the name is close", () => {
    expect(closest("numReplica", ["name", "numReplicas"])).toBe("numReplicas");
    expect(closest("maxongoingrequests", ["maxOngoingRequests"])).toBe("maxOngoingRequests");
    expect(closest("rotuePrefix", ["routePrefix"])).toBe("routePrefix");
    expect(closest("colour", ["name", "routePrefix", "importPath"])).toBeUndefined();
    expect(closest("x", ["y"])).toBeUndefined();
    expect(closest("name", ["name"])).toBeUndefined();
  });
});

describe("where the source is wrong", () => {
  test("a YAML error's line and column", () => {
    const at = (text: string) => yamlErrorPosition(text, Bun.YAML.parse);
    expect(at("applications:\n  - importPath: ./a.ts\n    deployments: [1, \n")).toEqual({ line: 3, column: 18, lineText: "    deployments: [1, " });
    expect(at("a:\n  b: 1\n c: 2\n")).toMatchObject({ line: 3, column: 2 });
    expect(at('a: "open\n')).toMatchObject({ line: 1, column: 4 });
  });

  test("Bun's build errors located, one or several", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tsserve-syntax-"));
    try {
      const file = join(dir, "one.ts");
      writeFileSync(file, "const a = 1;\nexport const b = (a;\n");
      const err = await rejection(import(file));
      expect(importErrorText(err)).toBe(`${file}:2:20: Expected ")" but found ";"\n  2 | export const b = (a;\n    |                    ^`);
      writeFileSync(join(dir, "many.ts"), "export const b = { x: 1;, y: (2 };\n");
      const many = importErrorText(await rejection(import(join(dir, "many.ts"))));
      expect(many.split("\n")[0]).toBe("3 errors:");
      expect([...many.matchAll(/:1:(\d+): /g)].map((m) => Number(m[1]))).toEqual([24, 27, 33]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(importErrorText(new Error("plain"))).toBe("plain");
  });
});
