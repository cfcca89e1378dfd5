/**
 * Workers on Deno, which tells the parent less than Bun does: no event when a Worker exits
 * (`Deno.exit()`, `process.exit()`, `self.close()`), and an uncaught error in a Worker is
 * rethrown in the parent (ending the whole process) unless the parent's `error` listener calls
 * `preventDefault()`. So a Worker reports its own death (guardWorker, first thing in every
 * Worker entry), the parent always prevents the rethrow, and a heartbeat catches a Worker that
 * goes silent without a word (an endless loop, or an exit the guard did not see).
 */
import type { WorkerEvents } from "../index.ts";
import { workerUrl } from "../workers.ts";

declare const Deno: any;
declare const self: Worker & { close(): void };

/** Messages of this layer carry this key; Comlink and the import worker never see them. */
const TAG = "__tsserveWorker";
type GuardMsg = { [TAG]: "ping" } | { [TAG]: "pong" } | { [TAG]: "died"; reason: string; crash?: string };

const tagOf = (data: unknown): string | undefined => (data !== null && typeof data === "object" && TAG in data ? (data as Record<string, string>)[TAG] : undefined);

const describe = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** The parent's side. */
export function startWorker(pathFromRoot: string, events: WorkerEvents): Worker {
  const worker = new Worker(workerUrl(pathFromRoot), { type: "module" });
  let dead = false;
  let timer: ReturnType<typeof setInterval> | undefined;
  const die = (reason: string, crash?: string) => {
    if (dead) return;
    dead = true;
    clearInterval(timer);
    events.onDeath(reason, crash);
  };
  let lastHeard = Date.now();
  // Registered before anyone else's listener, so stopImmediatePropagation hides our messages.
  worker.addEventListener("message", (ev: MessageEvent) => {
    const tag = tagOf(ev.data);
    if (tag === undefined) return;
    ev.stopImmediatePropagation();
    lastHeard = Date.now();
    if (tag === "died") die((ev.data as { reason: string }).reason, (ev.data as { crash?: string }).crash);
  });
  worker.addEventListener("error", (ev: Event) => {
    // Without this, Deno rethrows the Worker's error in this thread and the server dies with it.
    ev.preventDefault();
    const e = ev as ErrorEvent;
    const message = e.message || describe(e.error) || "unknown error";
    die(`crashed: ${message}`, message);
  });
  worker.addEventListener("messageerror", (ev: Event) => ev.preventDefault());
  const silentMs = events.heartbeat?.timeoutMs;
  if (silentMs !== undefined) {
    // Four pings per timeout: one late pong is no death, silence for the whole timeout is.
    timer = setInterval(() => {
      if (Date.now() - lastHeard > silentMs) die(`stopped answering (no heartbeat for ${silentMs} ms)`);
      else worker.postMessage({ [TAG]: "ping" } satisfies GuardMsg);
    }, Math.max(50, Math.floor(silentMs / 4)));
    Deno.unrefTimer(timer);
  }
  const terminate = worker.terminate.bind(worker);
  worker.terminate = () => {
    dead = true;
    clearInterval(timer);
    terminate();
  };
  return worker;
}

let guarded = false;

/** The Worker's side: answer heartbeats, and say why before dying. */
export function guardWorker(): void {
  if (guarded) return;
  guarded = true;
  const report = (reason: string, crash?: string) => {
    try {
      self.postMessage({ [TAG]: "died", reason, crash } satisfies GuardMsg);
    } catch {
      // The parent's heartbeat will notice.
    }
  };
  self.addEventListener("message", (ev: MessageEvent) => {
    if (tagOf(ev.data) === undefined) return;
    ev.stopImmediatePropagation();
    self.postMessage({ [TAG]: "pong" } satisfies GuardMsg);
  });
  self.addEventListener("error", (ev: Event) => {
    const e = ev as ErrorEvent;
    const message = e.message || describe(e.error) || "unknown error";
    report(`crashed: ${message}`, message);
  });
  self.addEventListener("unhandledrejection", (ev: Event) => {
    const message = `unhandled rejection: ${describe((ev as Event & { reason: unknown }).reason)}`;
    report(`crashed: ${message}`, message);
  });
  const exits = (name: string, exit: (code?: number) => never) => (code?: number): never => {
    report(`exited (${name}(${code ?? ""}))`);
    return exit(code);
  };
  Deno.exit = exits("Deno.exit", Deno.exit.bind(Deno));
  const proc = (globalThis as { process?: { exit(code?: number): never } }).process;
  if (proc) proc.exit = exits("process.exit", proc.exit.bind(proc));
  const close = self.close.bind(self);
  self.close = () => {
    report("exited (self.close())");
    close();
  };
}
