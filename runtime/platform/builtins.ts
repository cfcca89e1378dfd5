/**
 * Makes `import "tsserve"` (and "elysia", "@elysiajs/cors") in user files resolve to the copies
 * this process runs, in whichever thread calls it: the main thread and every Worker entry must. This
 * wins over a `node_modules/tsserve` beside the user's file, and keeps one SDK instance per
 * thread, so the runtime and the user's code share classes and state.
 */
import * as sdk from "../../sdk/index.ts";
import { isCompiled } from "./workers.ts";

let done = false;

/**
 * The packages the binary carries besides "tsserve", with how to load each inside the binary
 * (a bundled module of ours). Elysia's CORS plugin is here because a browser page on another
 * origin cannot call an app without it, and a user with only the binary cannot install it.
 */
const PACKAGES: Record<string, () => Promise<Record<string, unknown>>> = {
  elysia: () => import("./elysia.ts"),
  "@elysiajs/cors": () => import("./cors.ts"),
};

/**
 * Loads this process's copy of `name` without asking for it by name, which, once the virtual
 * module is registered, would ask the module itself: by file path under `bun run`, and
 * through a module of ours inside the compiled binary (where its import is bundled).
 */
function loader(name: string): (() => Promise<Record<string, unknown>>) | undefined {
  if (isCompiled) return PACKAGES[name];
  try {
    const path = Bun.resolveSync(name, import.meta.dir);
    return () => import(path);
  } catch {
    return undefined;
  }
}

export async function registerBuiltins(): Promise<void> {
  if (done) return;
  done = true;
  const loaders = Object.keys(PACKAGES).map((name) => [name, loader(name)] as const);
  Bun.plugin({
    name: "tsserve-builtins",
    setup(build) {
      build.module("tsserve", () => ({ exports: sdk as unknown as Record<string, unknown>, loader: "object" }));
      // Loaded when user code first imports them: about 50 ms and 1 MB (Elysia) that a thread
      // whose deployment does not use them (most replicas) no longer pays at start.
      for (const [name, load] of loaders) if (load) build.module(name, async () => ({ exports: await load(), loader: "object" }));
    },
  });
}
