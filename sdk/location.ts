/**
 * Where a deployment was defined. A replica finds its target by this place (the defining
 * module and the call site inside it), never by the deployment's name, so renamed
 * deployments and two deployments of one class both work.
 */

// import.meta.url, not Bun's import.meta.path/dir: Deno has only the web-standard one.
const here = decodeURIComponent(new URL(import.meta.url).pathname);
const sdkDir = here.slice(0, here.lastIndexOf("/"));

/** The defining module's path and a key naming the call site within it. */
export interface Location {
  file: string;
  site: string;
}

const FRAME = /\(?((?:file:\/\/)?[^\s()]+?):(\d+):(\d+)\)?\s*$/;

/** The first stack frame outside the SDK: the user's call of `serve.deployment()`. */
export function callerLocation(): Location | undefined {
  const stack = new Error().stack ?? "";
  for (const line of stack.split("\n").slice(1)) {
    const m = FRAME.exec(line.trim());
    if (!m) continue;
    let file = m[1]!;
    if (file.startsWith("file://")) file = decodeURIComponent(new URL(file).pathname);
    if (file === here || file.startsWith(sdkDir + "/") || !file.startsWith("/") || file.startsWith("/$bunfs/")) continue;
    return { file, site: `${m[2]}:${m[3]}` };
  }
  return undefined;
}
