/**
 * A replica that failed to start, as people read it: the status message keeps the error and
 * the first frames of the user's code (a message alone rarely says where), and the log gets
 * the whole stack once.
 */

/** tsserve's own sources: frames there say nothing about the user's code. */
const ROOT = asPath(new URL("../../", import.meta.url).href);
/** `ext:` holds Deno's own JavaScript (`ext:core/...`), as `node:` and `native` do Bun's. */
const OWN = [`${ROOT}runtime/`, `${ROOT}sdk/`, `${ROOT}cmd/`, "/$bunfs/", "node:", "ext:", "native", "unknown"];

/**
 * A frame's place as a path: Deno writes module URLs (`file:///app/model.ts:4:19`) where Bun
 * writes paths (`/app/model.ts:4:19`), so tsserve's own files were not recognised on Deno and a
 * start error named `sdk/options.ts` instead of the user's line.
 */
function asPath(where: string): string {
  if (!where.startsWith("file://")) return where;
  const path = where.slice("file://".length);
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/** Up to `max` frames of the stack that are in the user's code, as `fn (file:line:column)`. */
export function userFrames(stack: string | undefined, max = 3): string[] {
  const frames: string[] = [];
  for (const line of (stack ?? "").split("\n")) {
    const m = /^\s+at (?:(.*?) \((.*)\)|(.*))$/.exec(line);
    if (!m) continue;
    if (line.includes("--- ")) break;
    const where = asPath(m[2] ?? m[3] ?? "");
    if (!where || OWN.some((p) => where.startsWith(p) || where.includes(`(${p}`))) continue;
    frames.push(m[1] ? `${m[1]} (${where})` : where);
    if (frames.length === max) break;
  }
  return frames;
}

/** `Name: message at fn (file:line:col) < fn (file:line:col)`: one line, for status messages. */
export function startErrorSummary(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const frames = userFrames(err.stack);
  return `${err.name}: ${err.message}${frames.length ? ` at ${frames.join(" < ")}` : ""}`;
}
