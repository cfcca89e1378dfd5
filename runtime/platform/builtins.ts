/**
 * Makes `import "tsserve"` (and "elysia") in user files resolve to the copies this process
 * runs, in whichever thread calls it: the main thread and every Worker entry must. This
 * wins over a `node_modules/tsserve` beside the user's file, and keeps one SDK instance per
 * thread, so the runtime and the user's code share classes and state.
 */
import * as sdk from "../../sdk/index.ts";

let done = false;

export async function registerBuiltins(): Promise<void> {
  if (done) return;
  done = true;
  const elysia = await import("elysia").catch(() => undefined);
  Bun.plugin({
    name: "tsserve-builtins",
    setup(build) {
      build.module("tsserve", () => ({ exports: sdk as unknown as Record<string, unknown>, loader: "object" }));
      if (elysia) build.module("elysia", () => ({ exports: elysia as unknown as Record<string, unknown>, loader: "object" }));
    },
  });
}
