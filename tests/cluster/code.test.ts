// Code that travels with the deployment: what CodeStore.put stored is what every later
// materialize writes back, whatever became of the original files, against a real nats-server.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { CodeStore } from "../../runtime/cluster/code.ts";
import { codeVersion } from "../../runtime/admin/import-protocol.ts";
import { startNats } from "./nats_server.ts";

const repo = new URL("../..", import.meta.url).pathname;

/** A NATS connection closed when the test's scope ends. */
async function natsClient(url: string): Promise<NatsConnection & AsyncDisposable> {
  const nc = await connect({ servers: url });
  return Object.assign(nc, { [Symbol.asyncDispose]: () => nc.close() });
}

/**
 * An application's files in a temporary directory: main.ts imports ./lib/greet.ts by relative
 * path and @msgpack/msgpack by bare name; greet.ts says which edition of the code it is.
 */
function appFiles(edition: string): { dir: string; main: string; greet: string; files: string[] } & Disposable {
  const dir = mkdtempSync(join(tmpdir(), "tsserve-code-app-"));
  mkdirSync(join(dir, "lib"));
  const main = join(dir, "main.ts");
  const greet = join(dir, "lib", "greet.ts");
  writeFileSync(main, `import { encode } from "@msgpack/msgpack";\nimport { greet } from "./lib/greet.ts";\nexport const run = (name: string) => \`\${greet(name)} (\${encode(name).byteLength} bytes)\`;\n`);
  writeFileSync(greet, `export const greet = (name: string) => "${edition}: hello " + name;\n`);
  return { dir, main, greet, files: [main, greet], [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A directory under the repository (so its node_modules resolve bare imports), removed afterwards. */
function copies(): { dir: string } & Disposable {
  const dir = join(repo, ".tsserve", `test-code-${process.pid}-${Math.random().toString(36).slice(2)}`);
  return { dir, [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }) };
}

describe("CodeStore", () => {
  test("materialize brings back the code that was put, after the originals changed and were removed", async () => {
    await using nats = await startNats();
    await using head = await natsClient(nats.url);
    await using node = await natsClient(nats.url);
    using app = appFiles("v1");
    using into = copies();
    const heads = await CodeStore.open(head, "tsserve");
    expect(heads.bucket).toBe("tsserve_code");
    const v1 = await heads.put(app.files);
    expect(v1).toBe(codeVersion(app.files));

    writeFileSync(app.greet, `export const greet = (name: string) => "v2: hello " + name;\n`);
    const v2 = await heads.put(app.files);
    expect(v2).toBe(codeVersion(app.files));
    expect(v2).not.toBe(v1);
    unlinkSync(app.main);
    unlinkSync(app.greet);

    // Another node, with no copy of the files, materializes both versions.
    const nodes = await CodeStore.open(node, "tsserve");
    const copy1 = await nodes.materialize(v1, into.dir);
    expect(copy1.root).toBe(join(into.dir, v1));
    expect(copy1.localPath(app.main)).toBe(join(into.dir, v1, "main.ts"));
    expect(copy1.localPath(app.greet)).toBe(join(into.dir, v1, "lib", "greet.ts"));
    const { run: run1 } = await import(copy1.localPath(app.main));
    expect(run1("Dora")).toBe("v1: hello Dora (5 bytes)");
    const { run: run2 } = await import((await nodes.materialize(v2, into.dir)).localPath(app.main));
    expect(run2("Dora")).toBe("v2: hello Dora (5 bytes)");
    expect(() => copy1.localPath(join(app.dir, "other.ts"))).toThrow(/other\.ts is not part of the code copied to/);
    // Putting a version again stores nothing new and names the same version.
    writeFileSync(app.main, "export const x = 1;\n");
    writeFileSync(app.greet, "export const y = 2;\n");
    expect(await heads.put(app.files)).toBe(codeVersion(app.files));
    expect(await heads.put(app.files)).toBe(codeVersion(app.files));
  });

  test("the copy goes under the working directory by default, so the node's packages resolve", async () => {
    await using nats = await startNats();
    await using nc = await natsClient(nats.url);
    using app = appFiles("default");
    const store = await CodeStore.open(nc, "tsserve");
    const v = await store.put(app.files);
    const copy = await store.materialize(v);
    try {
      expect(copy.root).toBe(join(process.cwd(), ".tsserve", "code", v));
      const { run } = await import(copy.localPath(app.main));
      expect(run("Ada")).toBe("default: hello Ada (4 bytes)");
    } finally {
      rmSync(copy.root, { recursive: true, force: true });
    }
  });

  test("concurrent materialize of one version writes it once per node, and processes sharing a directory agree", async () => {
    await using nats = await startNats();
    await using a = await natsClient(nats.url);
    await using b = await natsClient(nats.url);
    using app = appFiles("shared");
    using into = copies();
    const one = await CodeStore.open(a, "tsserve");
    const other = await CodeStore.open(b, "tsserve");
    const v = await one.put(app.files);
    let fetched = 0;
    const getBlob = one.store.getBlob.bind(one.store);
    one.store.getBlob = (name: string) => {
      fetched++;
      return getBlob(name);
    };
    // 24 asks on one node, and 8 from another store writing to the same directory at once.
    const got = await Promise.all([...Array.from({ length: 24 }, () => one.materialize(v, into.dir)), ...Array.from({ length: 8 }, () => other.materialize(v, into.dir))]);
    expect(fetched).toBe(1);
    expect(new Set(got.map((c) => c.root))).toEqual(new Set([join(into.dir, v)]));
    expect(readdirSync(into.dir)).toEqual([v]); // no temporary directory left behind
    const { run } = await import(got[31]!.localPath(app.main));
    expect(run("Bo")).toBe("shared: hello Bo (3 bytes)");
  });

  test("errors: a version not in the store, a file that cannot be read, a cluster name NATS cannot take", async () => {
    await using nats = await startNats();
    await using nc = await natsClient(nats.url);
    using into = copies();
    const store = await CodeStore.open(nc, "blue");
    expect(store.bucket).toBe("blue_code");
    const missing = await store.materialize("0123456789abcdef", into.dir).catch((e: Error) => e);
    expect(missing).toBeInstanceOf(Error);
    expect((missing as Error).message).toBe('code version 0123456789abcdef is not in the object store bucket "blue_code": deploy the application again from the head so its code is stored');
    expect(existsSync(into.dir) ? readdirSync(into.dir) : []).toEqual([]);
    // Another cluster's bucket does not see blue's code.
    using app = appFiles("blue");
    const v = await store.put(app.files);
    const green = await CodeStore.open(nc, "green");
    await expect(green.materialize(v, into.dir)).rejects.toThrow(`code version ${v} is not in the object store bucket "green_code"`);
    const gone = join(app.dir, "gone.ts");
    await expect(store.put([app.main, gone])).rejects.toThrow(`cannot store the application's code: ${gone} cannot be read`);
    await expect(store.put(["lib/greet.ts"])).rejects.toThrow('CodeStore.put needs absolute paths, got "lib/greet.ts"');
    await expect(CodeStore.open(nc, "my.cluster")).rejects.toThrow('cluster name must be letters, digits, "_" or "-" (it names NATS buckets and subjects), got "my.cluster"');
    expect(() => store.materialize("../etc", into.dir)).toThrow("a code version is a hash of letters and digits");
    // A relative directory is taken from the working directory, and the copy's paths are absolute.
    const copy = await store.materialize(v, relative(process.cwd(), into.dir));
    expect(copy.root).toBe(join(into.dir, v));
  });

  test("under load: dozens of versions put and materialized by several nodes at once", async () => {
    await using nats = await startNats();
    await using head = await natsClient(nats.url);
    const nodes = await Promise.all(Array.from({ length: 4 }, () => natsClient(nats.url)));
    using into = copies();
    const apps = Array.from({ length: 24 }, (_, i) => appFiles(`edition ${i}`));
    try {
      const heads = await CodeStore.open(head, "tsserve");
      const versions = await Promise.all(apps.map((app) => heads.put(app.files)));
      expect(new Set(versions).size).toBe(24);
      const stores = await Promise.all(nodes.map((nc) => CodeStore.open(nc, "tsserve")));
      // Each node in its own directory; every version asked for 5 times on every node: 480 asks.
      const asks = stores.flatMap((s, n) => versions.flatMap((v) => Array.from({ length: 5 }, () => s.materialize(v, join(into.dir, `node${n}`)).then((c) => ({ n, v, c })))));
      const done = await Promise.all(asks);
      expect(done).toHaveLength(480);
      for (let n = 0; n < 4; n++) expect(readdirSync(join(into.dir, `node${n}`)).sort()).toEqual([...versions].sort());
      const i = 17;
      const { run } = await import(done.find((d) => d.n === 3 && d.v === versions[i])!.c.localPath(apps[i]!.main));
      expect(run("Cy")).toBe(`edition ${i}: hello Cy (3 bytes)`);
    } finally {
      for (const app of apps) app[Symbol.dispose]();
      await Promise.all(nodes.map((nc) => nc.close()));
    }
  });
});
