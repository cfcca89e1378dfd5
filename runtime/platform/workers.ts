/**
 * Where Worker entry files are. Compiled (`bun build --compile --root=.`), every entry sits
 * under `/$bunfs/root/` at its path from the repo root; otherwise it is on disk beside us.
 * A `new URL("../x", import.meta.url)` from the main entry fails in the binary, so both
 * modes go through here.
 */
const BUNFS_ROOT = /^file:\/\/\/(?:\$bunfs|[A-Za-z]:\/~BUN)\/root\//.exec(import.meta.url)?.[0];

export const isCompiled = BUNFS_ROOT !== undefined;
const ROOT_URL = BUNFS_ROOT ?? new URL("../../", import.meta.url).href;

/** The URL of a Worker entry, given as a path from the repo root (e.g. "runtime/replica/entry.ts"). */
export function workerUrl(pathFromRoot: string): string {
  return new URL(pathFromRoot, ROOT_URL).href;
}
