/**
 * The platform on Deno 2: Deno.serve, the `yaml` package, an import map in place of Bun's
 * module plugin, a followed import graph in place of Bun's module list, and Workers that
 * report their own death (see deno/worker.ts).
 */
import type { Platform } from "./index.ts";
import { serveHttp } from "./deno/http.ts";
import { moduleGraph } from "./deno/modules.ts";
import { guardWorker, startWorker } from "./deno/worker.ts";
import { parseYaml, stringifyYaml } from "./deno/yaml.ts";
import { isCompiled } from "./workers.ts";

export const denoPlatform: Platform = {
  name: "deno",
  isCompiled,
  serveHttp,
  // Deno has no module plugin: "tsserve" and "elysia" resolve through the import map (deno.json),
  // which every Worker of the process shares, to the same files the runtime loaded.
  async registerBuiltins() {},
  startWorker,
  guardWorker,
  loadedModuleFiles: (entry) => (entry === undefined ? [] : moduleGraph(entry)),
  parseYaml,
  stringifyYaml,
};
