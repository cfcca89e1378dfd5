/**
 * Code that travels with the deployment. The head stores the user files an application loaded
 * (runtime/admin/import-entry.ts lists them) as one object of JetStream's object store, named
 * by its code version; a node writes that version to its own disk before a replica imports it,
 * so every replica, on any node and at any later time, runs the code that was deployed, even
 * after the files on the head changed or were removed.
 *
 * Invariants:
 *  - a version's object never changes once stored (the name is the hash of the contents), so
 *    a node may keep its copy for as long as it likes, and two puts of one version agree;
 *  - a copy on disk is complete or absent: it is written under a temporary name and renamed
 *    into place, so a process that sees the directory may import from it, and of two writers
 *    (two node processes sharing a working directory) the first rename wins and the other
 *    throws its own copy away.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { decode, encode } from "@msgpack/msgpack";
import type { NatsConnection } from "@nats-io/transport-node";
import { Objm, type ObjectStore } from "@nats-io/obj";

/** Where a version of the code sits on this node, and where each original file now is. */
export interface CodeCopy {
  /** The copy's directory: the original files' common directory, moved here. */
  root: string;
  /** The copy of `originalFile` (an absolute path as the head loaded it). */
  localPath(originalFile: string): string;
}

/** What one stored object holds: the files' common directory on the head, and each file below it. */
interface Bundle {
  root: string;
  files: [relativePath: string, contents: Uint8Array][];
}

export class CodeStore {
  /** Copies this process wrote or is writing, by directory: asked twice, written once. */
  readonly #writing = new Map<string, Promise<CodeCopy>>();
  /** Versions this process stored or is storing: put twice, stored once. */
  readonly #storing = new Map<string, Promise<string>>();

  private constructor(
    readonly bucket: string,
    readonly store: ObjectStore,
  ) {}

  /** Opens (creating it the first time) the bucket `${clusterName}_code`. */
  static async open(nc: NatsConnection, clusterName: string): Promise<CodeStore> {
    if (!/^[\w-]+$/.test(clusterName)) {
      throw new TypeError(`cluster name must be letters, digits, "_" or "-" (it names NATS buckets and subjects), got ${JSON.stringify(clusterName)}`);
    }
    const bucket = `${clusterName}_code`;
    const store = await new Objm(nc).create(bucket, { description: "tsserve: the code of deployed applications, one object per code version" });
    return new CodeStore(bucket, store);
  }

  /**
   * Reads the files once, stores them as one version, returns that version (the same hash as
   * codeVersion(files) when the files did not change in between).
   */
  async put(files: string[]): Promise<string> {
    if (files.length === 0) throw new TypeError("CodeStore.put needs the application's files, got none");
    const read = await Promise.all(
      files.map(async (file): Promise<[string, Uint8Array]> => {
        if (!isAbsolute(file)) throw new TypeError(`CodeStore.put needs absolute paths, got ${JSON.stringify(file)}`);
        try {
          return [file, await readFile(file)];
        } catch (err) {
          throw new Error(`cannot store the application's code: ${file} cannot be read (${(err as Error).message}); was it removed while the application was deployed?`);
        }
      }),
    );
    const version = versionOf(read);
    let storing = this.#storing.get(version);
    if (!storing) {
      storing = this.#store(version, read);
      this.#storing.set(version, storing);
      storing.catch(() => this.#storing.delete(version));
    }
    return storing;
  }

  async #store(version: string, read: [string, Uint8Array][]): Promise<string> {
    if (await this.store.info(version)) return version; // stored before: the same bytes
    const root = commonDir(read.map(([f]) => f));
    const bundle: Bundle = { root, files: read.map(([f, bytes]) => [relative(root, f), bytes]) };
    await this.store.putBlob({ name: version, description: `${read.length} files under ${root}` }, encode(bundle));
    return version;
  }

  /**
   * Writes version `version` under `into` (default `<cwd>/.tsserve/code`, so that packages
   * installed in the node's working directory resolve from the copy), once per node even if
   * asked concurrently, atomically (temp dir + rename), and says where each original file now is.
   */
  materialize(version: string, into = join(process.cwd(), ".tsserve", "code")): Promise<CodeCopy> {
    if (!/^[\w-]+$/.test(version)) throw new TypeError(`a code version is a hash of letters and digits, got ${JSON.stringify(version)}`);
    const dir = join(resolve(into), version); // absolute: replicas import from it, whatever their own directory
    let writing = this.#writing.get(dir);
    if (!writing) {
      writing = this.#materialize(version, dir);
      this.#writing.set(dir, writing);
      // A failure is not kept: the next ask tries again (the store may have been down).
      writing.catch(() => this.#writing.delete(dir));
    }
    return writing;
  }

  async #materialize(version: string, dir: string): Promise<CodeCopy> {
    const bytes = await this.store.getBlob(version);
    if (!bytes) {
      throw new Error(`code version ${version} is not in the object store bucket "${this.bucket}": deploy the application again from the head so its code is stored`);
    }
    const bundle = decode(bytes) as Bundle;
    if (!existsSync(dir)) {
      await mkdir(dirname(dir), { recursive: true });
      const tmp = await mkdtemp(`${dir}.tmp-`);
      try {
        for (const [rel, contents] of bundle.files) {
          const path = join(tmp, rel);
          if (!path.startsWith(tmp + sep)) throw new Error(`code version ${version} holds a path outside its directory: ${rel}`);
          await mkdir(dirname(path), { recursive: true });
          await writeFile(path, contents);
        }
        await rename(tmp, dir);
      } catch (err) {
        await rm(tmp, { recursive: true, force: true });
        // Another process renamed its complete copy into place first: use that one.
        if (!existsSync(dir)) throw err;
      }
    }
    return copyAt(dir, bundle);
  }
}

function copyAt(dir: string, bundle: Bundle): CodeCopy {
  const stored = new Set(bundle.files.map(([rel]) => rel));
  return {
    root: dir,
    localPath(originalFile: string): string {
      const rel = relative(bundle.root, originalFile);
      if (!stored.has(rel)) {
        throw new Error(`${originalFile} is not part of the code copied to ${dir} (its files are under ${bundle.root}: ${[...stored].join(", ")})`);
      }
      return join(dir, rel);
    },
  };
}

/**
 * The code version of files already read: the same hash as codeVersion() in
 * runtime/admin/import-protocol.ts computes from the disk (tests/cluster/code.test.ts checks
 * that they agree), so the version names exactly the bytes stored.
 */
function versionOf(read: [string, Uint8Array][]): string {
  const hash = createHash("sha256");
  for (const [file, bytes] of [...read].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) hash.update(file).update("\0").update(bytes).update("\0");
  return hash.digest("hex").slice(0, 16);
}

/** The deepest directory holding every file. */
function commonDir(files: string[]): string {
  let common = dirname(files[0]!).split(sep);
  for (const f of files.slice(1)) {
    const parts = dirname(f).split(sep);
    let i = 0;
    while (i < common.length && i < parts.length && common[i] === parts[i]) i++;
    common = common.slice(0, i);
  }
  return common.join(sep) || sep;
}
