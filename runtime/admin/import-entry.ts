/**
 * The Worker entry that imports an application module and turns its export into an AppSpec.
 * Every import happens in a fresh Worker, so a second deploy of an edited file sees the new
 * code (the main thread's module cache would keep the old one), and the deployments'
 * call-site keys are the ones a replica computes when it imports the module the first time.
 */
import { Application, isClass, isDeployment } from "../../sdk/deployment.ts";
import { ServeError } from "../../sdk/errors.ts";
import { buildAppSpec } from "../../sdk/graph.ts";
import { installRuntime, type Runtime } from "../../sdk/runtime.ts";
import { guardWorker, loadedModuleFiles, registerBuiltins } from "../platform/index.ts";
import { codeVersion, type ImportReply, type ImportRequest } from "./import-protocol.ts";
import { importErrorText } from "./source-error.ts";
import { userFrames } from "../controller/start-error.ts";

declare const self: Worker;

guardWorker();

/** `serve.run()` and `serve.start()` never settle here: we import the module, we do not run it. */
class ImportRuntime implements Runtime {
  #reached!: () => void;
  readonly runReached = new Promise<void>((resolve) => (this.#reached = resolve));
  start(): Promise<never> {
    this.#reached();
    return new Promise<never>(() => {});
  }
  run(): Promise<never> {
    this.#reached();
    return new Promise<never>(() => {});
  }
  #unavailable(what: string): never {
    throw new ServeError(`${what} is not available while tsserve imports an application module; call it inside a deployment or under if (import.meta.main)`);
  }
  delete(): Promise<void> {
    this.#unavailable("serve.delete()");
  }
  shutdown(): Promise<void> {
    this.#unavailable("serve.shutdown()");
  }
  status(): never {
    this.#unavailable("serve.status()");
  }
  metrics(): never {
    this.#unavailable("serve.metrics()");
  }
  target(): never {
    this.#unavailable("a deployment handle");
  }
  call(): never {
    this.#unavailable("a deployment handle");
  }
  stream(): never {
    this.#unavailable("a deployment handle");
  }
}

const errorText = (err: unknown): string => (err instanceof Error || (typeof err === "object" && err !== null && "message" in err) ? String((err as Error).message) : String(err));

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "function") return isClass(value as never) ? `a class (${value.name || "anonymous"})` : `a function`;
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return `an object (${value.constructor?.name ?? "Object"})`;
  return `a ${typeof value}`;
}

async function importApp(req: ImportRequest): Promise<ImportReply> {
  const runtime = new ImportRuntime();
  installRuntime(runtime);
  await registerBuiltins();
  const before = new Set(loadedModuleFiles());
  const { file } = req;
  let mod: Record<string, unknown>;
  try {
    const first = await Promise.race([import(file).then((m: Record<string, unknown>) => ({ m })), runtime.runReached.then(() => undefined)]);
    if (!first) {
      throw new ServeError(
        `${file} calls serve.run() or serve.start() while it is being imported; put that code under if (import.meta.main) so tsserve can import the module`,
      );
    }
    mod = first.m;
  } catch (err) {
    if (err instanceof ServeError) throw err;
    const text = importErrorText(err);
    // A located error starts with its own file:line:column: it goes on a line of its own.
    const gap = text.includes("\n") && !/^\d+ errors:/.test(text) ? "\n" : " ";
    // An error thrown by the module's code (an invalid option, say): the line that threw.
    const at = text.includes("\n") ? undefined : userFrames((err as Error)?.stack, 1)[0];
    throw new ServeError(`cannot import ${file}:${gap}${text}${at ? ` (at ${at})` : ""}`);
  }
  const exportNames = Object.keys(mod).filter((k) => k !== "default" || mod.default !== undefined);
  const listed = exportNames.length ? exportNames.join(", ") : "(none)";
  let exportName = req.exportName;
  if (exportName === undefined) {
    if ("app" in mod) exportName = "app";
    else if (mod.default !== undefined) exportName = "default";
    else throw new ServeError(`${file} has no export named "app" and no default export; name the export to serve as ${file}:<export> (its exports: ${listed})`);
  } else if (!(exportName in mod)) {
    throw new ServeError(`${file} has no export named "${exportName}"; its exports: ${listed}`);
  }
  const value = mod[exportName];
  const what = `export "${exportName}" of ${file}`;
  const argNames = Object.keys(req.args);
  let app: Application;
  if (value instanceof Application) {
    if (argNames.length) {
      throw new ServeError(`arguments (${argNames.join(", ")}) were given, but ${what} is an Application, not a builder function; drop them or export a builder (args) => Application`);
    }
    app = value;
  } else if (isDeployment(value)) {
    throw new ServeError(`${what} is a Deployment, not an Application; export ${value.deploymentName}.bind(...) instead`);
  } else if (typeof value === "function" && !isClass(value as never)) {
    let built: unknown;
    try {
      built = await (value as (args: Record<string, unknown>) => unknown)(req.args);
    } catch (err) {
      throw new ServeError(`builder ${what} threw: ${errorText(err)}`);
    }
    if (!(built instanceof Application)) {
      throw new ServeError(`builder ${what} returned ${describe(built)}, not an Application (Deployment.bind(...))`);
    }
    app = built;
  } else {
    throw new ServeError(`${what} is ${describe(value)}: it must be an Application (Deployment.bind(...)) or a builder function (args) => Application`);
  }
  const spec = buildAppSpec(app, req.name, req.routePrefix);
  const files = [file, ...loadedModuleFiles(file).filter((f) => !before.has(f) && f !== file && f.startsWith("/") && !f.startsWith("/$bunfs/") && !f.includes("/node_modules/"))];
  return { ok: true, spec, exportName, files, codeVersion: codeVersion(files) };
}

self.onmessage = async (ev: MessageEvent<ImportRequest>) => {
  let reply: ImportReply;
  try {
    reply = await importApp(ev.data);
  } catch (err) {
    reply = { ok: false, message: errorText(err) };
  }
  try {
    self.postMessage(reply);
  } catch (err) {
    self.postMessage({ ok: false, message: `the application built from ${ev.data.file} cannot be sent to the runtime: ${errorText(err)}` } satisfies ImportReply);
  }
};
