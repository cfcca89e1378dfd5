/**
 * Builds the tsserve binary: `bun scripts/build.ts [--outfile dist/tsserve]`.
 *
 * - Every Worker entry is an entrypoint of its own (Bun only bundles a Worker's file when
 *   it is named here), and `--root=.` keeps each at its path from the repo root inside the
 *   binary, where runtime/platform/workers.ts looks for it (`/$bunfs/root/<path>`).
 * - dist/declarations.txt: the type declarations `tsserve init` writes (scripts/declarations.ts).
 * - `--no-compile-autoload-bunfig` / `--no-compile-autoload-dotenv`: the binary runs in users'
 *   directories, whose bunfig.toml (and its preload) or .env must not run inside it.
 */
import { parseArgs } from "node:util";
import { writeDeclarations } from "./declarations.ts";

/** The CLI first, then every file that is started as a Worker. */
export const ENTRYPOINTS = ["cmd/tsserve.ts", "runtime/replica/entry.ts", "runtime/admin/import-entry.ts"];

const root = new URL("..", import.meta.url).pathname;
const { values } = parseArgs({ args: process.argv.slice(2), options: { outfile: { type: "string" } } });
const outfile = values.outfile ?? "dist/tsserve";

const started = performance.now();
writeDeclarations();
const build = Bun.spawnSync(
  [
    process.execPath,
    "build",
    "--compile",
    "--root=.",
    "--no-compile-autoload-bunfig",
    "--no-compile-autoload-dotenv",
    "--minify-syntax",
    // Names are part of the contract: a deployment is named after its class or function
    // (serve.ingress()'s is `Ingress`), and errors keep their class names.
    "--keep-names",
    ...ENTRYPOINTS,
    "--outfile",
    outfile,
  ],
  { cwd: root, stdout: "pipe", stderr: "inherit" },
);
if (build.exitCode !== 0) {
  console.error(build.stdout.toString());
  console.error(`build failed (exit ${build.exitCode})`);
  process.exit(1);
}
console.log(`built ${outfile} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
