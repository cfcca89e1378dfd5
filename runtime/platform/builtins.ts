/**
 * Makes `import "tsserve"` (and "elysia") in user files resolve to the copies this process
 * runs, in whichever thread calls it: the main thread and every Worker entry must. This
 * wins over a `node_modules/tsserve` beside the user's file, and keeps one SDK instance per
 * thread, so the runtime and the user's code share classes and state.
 */
import * as sdk from "../../sdk/index.ts";
import { isCompiled } from "./workers.ts";

let done = false;

/**
 * Loads this process's Elysia without asking for "elysia" by name, which, once the virtual
 * module is registered, would ask the module itself: by file path under `bun run`, and
 * through a module of ours inside the compiled binary (where its import is bundled).
 */
function elysiaLoader(): (() => Promise<Record<string, unknown>>) | undefined {
  if (isCompiled) return () => import("./elysia.ts");
  try {
    const path = Bun.resolveSync("elysia", import.meta.dir);
    return () => import(path);
  } catch {
    return undefined;
  }
}

export async function registerBuiltins(): Promise<void> {
  if (done) return;
  done = true;
  const elysia = elysiaLoader();
  Bun.plugin({
    name: "tsserve-builtins",
    setup(build) {
      build.module("tsserve", () => ({ exports: sdk as unknown as Record<string, unknown>, loader: "object" }));
      // Loaded when user code first imports it: about 50 ms and 1 MB that a thread whose
      // deployment does not use Elysia (most replicas) no longer pays at start.
      if (elysia) build.module("elysia", async () => ({ exports: await elysia(), loader: "object" }));
    },
  });
}
