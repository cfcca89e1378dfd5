/**
 * `tsserve init [dir]`: makes a folder where `tsc --noEmit` and editors check an app with the
 * binary alone: the type declarations the binary holds, a tsconfig.json that finds them, and an
 * example app. Files the user already has are kept.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { isCompiled, platform } from "../runtime/platform/index.ts";
import { parse } from "./args.ts";
import { APP } from "./init-app.ts";
import { CliError, out, UsageError } from "./output.ts";

export const summary = "write a tsconfig.json, type declarations and an example app";

export const help = `Usage: tsserve init [dir]

Makes dir (default: the current directory) ready for a typed app with the binary alone:

  tsconfig.json   finds the declarations below; kept if it exists
  app.ts          an Elysia app calling a downstream deployment; kept if it exists
  .tsserve/types/ the type declarations of "tsserve", "elysia", "@elysiajs/cors" and Bun,
                  as this binary holds them (rewritten each time, to match the binary)

Then \`tsserve run app.ts\` serves it, and \`tsc --noEmit\` (TypeScript installed any way you
like, e.g. npx -p typescript tsc --noEmit) or an editor checks it.

Options:
  -h, --help  show this help`;

/** Where the declarations go, inside the folder. */
export const TYPES_DIR = ".tsserve/types";

/**
 * The compiler options that make "tsserve", "elysia" and "@elysiajs/cors" resolve to the
 * declarations (their own imports, such as @sinclair/typebox, resolve beside them, since the
 * folder is laid out as node_modules), and Bun's globals available.
 */
const TSCONFIG = {
  compilerOptions: {
    target: "ESNext",
    module: "Preserve",
    moduleResolution: "bundler",
    lib: ["ESNext"],
    types: ["bun"],
    typeRoots: [`./${TYPES_DIR}/node_modules/@types`],
    paths: {
      tsserve: [`./${TYPES_DIR}/node_modules/tsserve`],
      elysia: [`./${TYPES_DIR}/node_modules/elysia`],
      "@elysiajs/cors": [`./${TYPES_DIR}/node_modules/@elysiajs/cors`],
    },
    strict: true,
    skipLibCheck: true,
    noEmit: true,
    allowImportingTsExtensions: true,
  },
  exclude: [".tsserve", "node_modules"],
};

/** The declarations, path -> text: carried by the binary; generated from node_modules in a checkout. */
async function declarations(): Promise<Record<string, string>> {
  if (isCompiled) {
    // scripts/build.ts writes this file before compiling; `type: "file"` embeds it in the
    // binary. It is JSON named .txt so TypeScript takes it for a module without resolveJsonModule.
    const path = (await import("../dist/declarations.txt", { with: { type: "file" } })).default;
    return JSON.parse(readFileSync(path, "utf8"));
  }
  // From a checkout: made by the build's script (cached in dist/ like a build's). A path that
  // TypeScript and the bundler do not follow: the script needs node_modules and tsc.
  const script = new URL("../scripts/declarations.ts", import.meta.url).href;
  const made: string = (await import(script)).writeDeclarations();
  return JSON.parse(readFileSync(made, "utf8"));
}

export async function init(argv: string[]): Promise<void> {
  const { values, positionals } = parse("init", argv, {});
  if (values.help) return out(help);
  if (positionals.length > 1) throw new UsageError(`tsserve init: one folder at most, got ${positionals.length}: ${positionals.join(" ")}`);
  const dir = resolve(positionals[0] ?? ".");
  if (existsSync(dir) && !statSync(dir).isDirectory()) {
    throw new CliError(`${positionals[0]} is a file; tsserve init takes a folder (new or existing), such as "tsserve init my-app"`);
  }
  mkdirSync(dir, { recursive: true });

  const files = await declarations();
  const types = join(dir, TYPES_DIR);
  rmSync(types, { recursive: true, force: true });
  for (const [path, text] of Object.entries(files)) {
    const file = join(types, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
  }

  const wrote: string[] = [];
  const kept: string[] = [];
  const write = (name: string, text: string) => {
    const file = join(dir, name);
    if (existsSync(file)) return kept.push(name);
    writeFileSync(file, text);
    wrote.push(name);
  };
  write("tsconfig.json", `${JSON.stringify(TSCONFIG, null, 2)}\n`);
  write("app.ts", APP);

  const where = positionals[0] ?? ".";
  out(`Wrote ${[...wrote, `${TYPES_DIR}/ (${Object.keys(files).length} declaration files)`].join(", ")} in ${where}`);
  if (kept.length) out(`Kept ${kept.join(" and ")} as they were${kept.includes("tsconfig.json") && !usesTypes(join(dir, "tsconfig.json")) ? `; add the compilerOptions "paths", "types" and "typeRoots" of \`tsserve init\` into a new folder to it` : ""}`);
  out("Next:");
  if (where !== ".") out(`  cd ${where}`);
  out(`  ${self()} run app.ts${" ".repeat(Math.max(1, 33 - self().length - " run app.ts".length))}serve it on http://127.0.0.1:8000`);
  out("  npx -p typescript tsc --noEmit   check its types (or open the folder in an editor)");
}

/** How the user starts this CLI: the binary, or on Deno from a checkout `deno run -A <checkout>/cmd/tsserve.ts`. */
function self(): string {
  return platform.name === "deno" && !isCompiled ? `deno run -A ${fileURLToPath(new URL("./tsserve.ts", import.meta.url))}` : "tsserve";
}

/** Whether an existing tsconfig.json already points at the declarations. */
function usesTypes(file: string): boolean {
  return readFileSync(file, "utf8").includes(TYPES_DIR);
}
