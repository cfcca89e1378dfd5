/**
 * The module files an application loaded, on Deno, which keeps no list of loaded modules (Bun
 * has `require.cache`). We follow the static and literal dynamic relative imports from the
 * file that was imported: what `--reload` watches and what the code version hashes. Imports
 * of packages (bare names, `npm:`, `jsr:`, URLs) are not the application's own files.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";

const IMPORT = /(?:\bimport|\bexport)\s*(?:[\w*\s{},$]*?\bfrom\s*)?["']([^"'\n]+)["']|\bimport\s*\(\s*["']([^"'\n]+)["']\s*\)/g;

/** Every relative module reachable from `entry` (the entry included), in discovery order. */
export function moduleGraph(entry: string): string[] {
  const seen = new Set<string>();
  const queue = [entry];
  while (queue.length) {
    const file = queue.shift()!;
    if (seen.has(file) || file.includes("/node_modules/") || !existsSync(file) || !statSync(file).isFile()) continue;
    seen.add(file);
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2]!;
      if (spec.startsWith("./") || spec.startsWith("../")) queue.push(resolve(dirname(file), spec));
      else if (spec.startsWith("/")) queue.push(spec);
      else if (spec.startsWith("file://")) queue.push(decodeURIComponent(new URL(spec).pathname));
    }
  }
  return [...seen];
}
