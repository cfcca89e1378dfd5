/** What the main thread and the import Worker (import-entry.ts) say to each other. */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { AppSpec } from "../../sdk/graph.ts";

export interface ImportRequest {
  /** Absolute path of the module. */
  file: string;
  /** The export to serve; undefined: `app`, else the default export. */
  exportName: string | undefined;
  /** Passed to a builder export. */
  args: Record<string, unknown>;
  name: string;
  routePrefix: string | null;
}

export type ImportReply =
  | {
      ok: true;
      spec: AppSpec;
      exportName: string;
      /** The module and the user files it loaded (not node_modules): what --reload watches. */
      files: string[];
      /** Changes when any of `files` changes. */
      codeVersion: string;
    }
  | { ok: false; message: string };

/** A short hash of the files' contents (a file that cannot be read counts as empty). */
export function codeVersion(files: string[]): string {
  const hash = createHash("sha256");
  for (const f of [...files].sort()) {
    hash.update(f).update("\0");
    try {
      hash.update(readFileSync(f));
    } catch {
      // Deleted since it was imported: the next import reports it.
    }
    hash.update("\0");
  }
  return hash.digest("hex").slice(0, 16);
}
