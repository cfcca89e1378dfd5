/** The platform on Bun: Bun.serve, Bun.plugin, Bun.YAML, require.cache, Workers with a close event. */
import type { Platform, WorkerEvents } from "./index.ts";
import { registerBuiltins } from "./builtins.ts";
import { serveHttp } from "./http.ts";
import { loadedModuleFiles } from "./modules.ts";
import { isCompiled, workerUrl } from "./workers.ts";
import { parseYaml } from "./yaml.ts";
import { stringifyYaml } from "./yaml-write.ts";

/** Bun tells the parent everything: an `error` event for a crash, a `close` event for an exit. */
function startWorker(pathFromRoot: string, events: WorkerEvents): Worker {
  const worker = new Worker(workerUrl(pathFromRoot), { type: "module" });
  let dead = false;
  const die = (reason: string, crash?: string) => {
    if (dead) return;
    dead = true;
    events.onDeath(reason, crash);
  };
  worker.addEventListener("error", (ev: Event) => {
    const e = ev as ErrorEvent;
    ev.preventDefault();
    const message = String(e.message || e.error || "unknown error");
    die(`crashed: ${message}`, message);
  });
  worker.addEventListener("close", () => die("exited"));
  return worker;
}

export const bunPlatform: Platform = {
  name: "bun",
  isCompiled,
  serveHttp,
  registerBuiltins,
  startWorker,
  guardWorker() {},
  loadedModuleFiles: () => loadedModuleFiles(),
  parseYaml,
  stringifyYaml,
};
