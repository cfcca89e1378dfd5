/**
 * The seam between tsserve and the JavaScript runtime it runs on: one small interface, a Bun
 * and a Deno implementation, chosen once when this module loads. Nothing outside this folder
 * asks which runtime it is on; it calls these functions.
 */
import { bunPlatform } from "./bun.ts";
import { denoPlatform } from "./deno.ts";
import type { FetchHandler, HttpServer, ServeOptions } from "./http.ts";

export type { FetchHandler, HttpServer, Listener, ServeOptions } from "./http.ts";
// Runtime-neutral helpers of the Bun files: plain functions and constants, no Bun calls.
export { listenError, DEFAULT_IDLE_TIMEOUT_SECONDS } from "./http.ts";
export { upgradeSocket, type SocketSession, type SocketLimits, type Upgraded } from "./websocket.ts";

/** How a started Worker may end without being terminated on purpose. */
export interface WorkerEvents {
  /** Once, when the Worker crashed, exited or stopped answering: `reason` says which ("crashed: <message>", "exited", ...); `crash` is the error's message alone. */
  onDeath(reason: string, crash?: string): void;
  /** Where the runtime gives no exit event (Deno): ping, and call the Worker dead after this long without an answer. */
  heartbeat?: { timeoutMs: number };
}

export interface Platform {
  readonly name: "bun" | "deno";
  /** Runs inside the compiled binary (module paths are virtual there). */
  readonly isCompiled: boolean;
  /** Listens on host:port (0 = a free port) and answers with `fetch`. */
  serveHttp(options: ServeOptions, fetch: FetchHandler): HttpServer;
  /** Makes "tsserve" and "elysia" in user files resolve to this process's copies (every thread). */
  registerBuiltins(): Promise<void>;
  /** A module Worker for an entry given from the repo root (e.g. "runtime/replica/entry.ts"), with death detection. */
  startWorker(pathFromRoot: string, events: WorkerEvents): Worker;
  /** Call first in a Worker entry: lets the parent see this Worker die (no-op where the runtime tells it). */
  guardWorker(): void;
  /** The user module files this thread loaded (not node_modules); `entry` is the file imported last. */
  loadedModuleFiles(entry?: string): string[];
  parseYaml(text: string): unknown;
  /** YAML with a final newline. */
  stringifyYaml(value: unknown): string;
}

/**
 * The runtime this process runs on. Both sides are imported statically and touch their runtime's
 * globals only when called: a top-level await here would let a Worker's first messages arrive
 * before its entry listens (they would be lost).
 */
export const platform: Platform = "Deno" in globalThis ? denoPlatform : bunPlatform;

// The names callers already use, bound to the chosen platform.
export const isCompiled = platform.isCompiled;
export const serveHttp = (options: ServeOptions, fetch: FetchHandler): HttpServer => platform.serveHttp(options, fetch);
export const registerBuiltins = (): Promise<void> => platform.registerBuiltins();
export const startWorker = (pathFromRoot: string, events: WorkerEvents): Worker => platform.startWorker(pathFromRoot, events);
export const guardWorker = (): void => platform.guardWorker();
export const loadedModuleFiles = (entry?: string): string[] => platform.loadedModuleFiles(entry);
export const parseYaml = (text: string): unknown => platform.parseYaml(text);
export const stringifyYaml = (value: unknown): string => platform.stringifyYaml(value);
export { workerUrl } from "./workers.ts";
