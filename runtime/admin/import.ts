/**
 * Imports `module.ts[:export]` in a fresh Worker (see import-entry.ts) and returns the
 * application as an AppSpec, ready to deploy. The main thread never imports user code.
 */
import { existsSync, statSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { ServeError } from "../../sdk/errors.ts";
import { startWorker } from "../platform/index.ts";
import type { ImportReply, ImportRequest } from "./import-protocol.ts";
import { splitImportPath } from "./schema.ts";

export type ImportedApp = Extract<ImportReply, { ok: true }>;

const ENTRY = "runtime/admin/import-entry.ts";

/** A module that cannot be imported, or whose export is not an application. */
export class ImportError extends ServeError {
  override name = "ImportError";
}

export interface ImportOptions {
  name: string;
  routePrefix: string | null;
  args?: Record<string, unknown>;
}

/** Give up on a module whose import never finishes. */
const IMPORT_TIMEOUT_MS = 120_000;

/** `importPath` with its module made absolute against `baseDir`. */
export function absoluteImportPath(importPath: string, baseDir: string): string {
  const { file, exportName } = splitImportPath(importPath);
  const abs = isAbsolute(file) ? file : resolve(baseDir, file);
  return exportName === undefined ? abs : `${abs}:${exportName}`;
}

/** Imports the module (a relative path is relative to the working directory) and builds the application; rejects with ImportError naming what is wrong. */
export async function importApp(importPath: string, options: ImportOptions): Promise<ImportedApp> {
  const { file: given, exportName } = splitImportPath(importPath);
  const file = isAbsolute(given) ? given : resolve(given);
  if (!existsSync(file)) throw new ImportError(`${file}: no such file`);
  if (!statSync(file).isFile()) throw new ImportError(`${file} is not a file`);
  const request: ImportRequest = { file, exportName, args: options.args ?? {}, name: options.name, routePrefix: options.routePrefix };
  let timer: ReturnType<typeof setTimeout> | undefined;
  let worker: Worker | undefined;
  try {
    const reply = await new Promise<ImportReply>((done, fail) => {
      // A missing entry or an uncaught error in user code arrives as an event, not a throw.
      worker = startWorker(ENTRY, { onDeath: (reason, crash) => fail(new ImportError(`importing ${file} failed: ${crash ?? `the import worker ${reason}`}`)) });
      worker.addEventListener("message", (ev: MessageEvent<ImportReply>) => done(ev.data));
      timer = setTimeout(() => fail(new ImportError(`importing ${file} did not finish within ${IMPORT_TIMEOUT_MS / 1000} s; does the module wait for something at top level?`)), IMPORT_TIMEOUT_MS);
      worker.postMessage(request);
    });
    if (!reply.ok) throw new ImportError(reply.message);
    return reply;
  } finally {
    clearTimeout(timer);
    worker?.terminate();
  }
}
