/**
 * The type declarations `tsserve init` writes, so `tsc --noEmit` and editors check an app in a
 * folder that has only the binary: "tsserve" (emitted from sdk/ by tsc), and the packages the
 * binary carries ("elysia", "@elysiajs/cors") with every package their declarations import
 * (@sinclair/typebox, ...) and Bun's and Node's types, copied from node_modules.
 *
 * `bun scripts/declarations.ts` writes them to dist/declarations.txt as one JSON object, path ->
 * text, laid out as a node_modules folder; scripts/build.ts does so before compiling, and the
 * binary carries the file (cmd/init.ts).
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const modules = join(root, "node_modules");

/** What user code imports besides "tsserve", and the Bun globals (`Bun`, `import.meta.main`). */
const ROOTS = ["elysia", "@elysiajs/cors", "@types/bun"];
/** Declared but not wanted: the user installs TypeScript; file-type is an optional peer Elysia's types never import. */
const SKIP = new Set(["typescript", "file-type"]);
const DECLARATION = /\.d\.[cm]?ts$/;

/** Every declaration file of `dir` (not of nested node_modules), as paths relative to it. */
function declarationFiles(dir: string, under = ""): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(dir, under))) {
    const rel = under ? `${under}/${name}` : name;
    if (name === "node_modules") continue;
    if (statSync(join(dir, rel)).isDirectory()) out.push(...declarationFiles(dir, rel));
    else if (DECLARATION.test(name)) out.push(rel);
  }
  return out;
}

/** The packages `name` needs for its types: itself, its dependencies and peer dependencies, transitively. */
function closure(roots: string[]): string[] {
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name) || SKIP.has(name) || !existsSync(join(modules, name, "package.json"))) return;
    seen.add(name);
    const pkg = JSON.parse(readFileSync(join(modules, name, "package.json"), "utf8"));
    for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies })) visit(dep);
  };
  roots.forEach(visit);
  return [...seen].sort();
}

/** "tsserve": sdk/index.ts's declarations, emitted by tsc into a temporary folder. */
function tsserveDeclarations(): Record<string, string> {
  const out = mkdtempSync(join(tmpdir(), "tsserve-dts-"));
  try {
    const tsconfig = join(out, "tsconfig.json");
    writeFileSync(
      tsconfig,
      JSON.stringify({
        extends: join(root, "tsconfig.json"),
        compilerOptions: { noEmit: false, declaration: true, emitDeclarationOnly: true, outDir: join(out, "emit"), rootDir: root, typeRoots: [join(modules, "@types")] },
        files: [join(root, "sdk/index.ts")],
        include: [],
      }),
    );
    // node:child_process, not Bun.spawnSync: `tsserve init` runs this on Deno too.
    const tsc = spawnSync(join(modules, ".bin/tsc"), ["-p", tsconfig], { encoding: "utf8" });
    if (tsc.status !== 0) throw new Error(`tsc could not emit the declarations of sdk/:\n${tsc.stdout}${tsc.stderr}`);
    const files: Record<string, string> = {
      "node_modules/tsserve/package.json": `${JSON.stringify({ name: "tsserve", version: pkgVersion(), types: "./sdk/index.d.ts" }, null, 2)}\n`,
    };
    // sdk/ imports nothing of runtime/ in its types; runtime/ is emitted only because index.ts loads it.
    for (const rel of declarationFiles(join(out, "emit", "sdk"))) {
      files[`node_modules/tsserve/sdk/${rel}`] = readFileSync(join(out, "emit", "sdk", rel), "utf8");
    }
    return files;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

function pkgVersion(): string {
  return JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version;
}

/** Every declaration file `tsserve init` writes, by its path under the types folder. */
export function declarations(): Record<string, string> {
  const files = tsserveDeclarations();
  for (const name of closure(ROOTS)) {
    const dir = join(modules, name);
    files[`node_modules/${name}/package.json`] = readFileSync(join(dir, "package.json"), "utf8");
    for (const rel of declarationFiles(dir)) files[`node_modules/${name}/${rel}`] = readFileSync(join(dir, rel), "utf8");
  }
  return files;
}

/**
 * Writes dist/declarations.txt (JSON, named .txt so TypeScript takes it for a module without
 * resolveJsonModule), which cmd/init.ts embeds, unless the one there was made from the same
 * sdk/ sources and installed packages (running tsc takes seconds). Written whole then renamed,
 * so a build beside this one never reads half of it. Returns the file's path.
 */
export function writeDeclarations(): string {
  const outfile = join(root, "dist/declarations.txt");
  const keyFile = join(root, "dist/declarations.key");
  const key = sourcesKey();
  if (existsSync(outfile) && existsSync(keyFile) && readFileSync(keyFile, "utf8") === key) return outfile;
  mkdirSync(join(root, "dist"), { recursive: true });
  const partial = `${outfile}.${process.pid}`;
  writeFileSync(partial, JSON.stringify(declarations()));
  renameSync(partial, outfile);
  writeFileSync(keyFile, key);
  return outfile;
}

/** A hash of what the declarations are made from: sdk/, this script, and the installed packages. */
function sourcesKey(): string {
  const hash = createHash("sha256");
  const sdk = join(root, "sdk");
  for (const name of readdirSync(sdk).sort()) hash.update(name).update(readFileSync(join(sdk, name)));
  for (const file of ["scripts/declarations.ts", "tsconfig.json", "package.json", "node_modules/.package-lock.json"]) {
    if (existsSync(join(root, file))) hash.update(readFileSync(join(root, file)));
  }
  return hash.digest("hex");
}

if (import.meta.main) console.log(`wrote ${relative(process.cwd(), writeDeclarations())}`);
