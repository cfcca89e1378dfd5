/** Deployment progress: one line per deployment whenever its replicas-ready count changes. */
import type { ServeStatus } from "../sdk/status.ts";
import { dim, out, red } from "./output.ts";

export interface ProgressView {
  applications: ServeStatus["applications"];
  /** Replicas each deployment starts with: `{ app: { deployment: n } }`. */
  targets: Record<string, Record<string, number>>;
}

/**
 * Progress lines: a deployment's line is printed when it changes, and again every
 * `repeatMs` while its replicas are not all ready (a slow constructor still shows signs of
 * life), each with the time since the deploy began.
 */
export class Progress {
  readonly #last = new Map<string, { line: string; at: number }>();
  readonly #started: number;

  constructor(
    readonly apps: string[],
    readonly repeatMs = 5000,
    readonly print: (line: string) => void = out,
    readonly clock: () => number = Date.now,
  ) {
    this.#started = clock();
  }

  /** Prints the deployments of `apps` whose line changed since the last update, or that still wait. */
  update(view: ProgressView): void {
    const now = this.clock();
    for (const app of this.apps) {
      const a = view.applications[app];
      if (!a) continue;
      for (const [name, d] of Object.entries(a.deployments)) {
        const ready = d.replicaStates.RUNNING ?? 0;
        const wanted = view.targets[app]?.[name] ?? "?";
        const others = Object.entries(d.replicaStates)
          .filter(([state, n]) => state !== "RUNNING" && n)
          .map(([state, n]) => `${state} ${n}`);
        let line = `  ${app}/${name}: ${ready}/${wanted} replicas ready${others.length ? dim(` (${others.join(", ")})`) : ""}`;
        if (d.status === "DEPLOY_FAILED") line += ` ${red("DEPLOY_FAILED")}`;
        const key = `${app}/${name}`;
        const last = this.#last.get(key);
        const waiting = ready !== wanted && d.status !== "DEPLOY_FAILED";
        if (last?.line === line && !(waiting && now - last.at >= this.repeatMs)) continue;
        this.#last.set(key, { line, at: now });
        this.print(`${line}${dim(` ${elapsed(now - this.#started)}`)}`);
      }
    }
  }
}

/** `0.4s`, `12s`, `2m05s`. */
export function elapsed(ms: number): string {
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}

/** Calls `tick` every `everyMs` until `work` settles (and once more after), then returns its result. */
export async function whileRunning<T>(work: Promise<T>, tick: () => void | Promise<void>, everyMs = 150): Promise<T> {
  let settled = false;
  const quiet = work.then(
    () => (settled = true),
    () => (settled = true),
  );
  while (!settled) {
    await tick();
    await Promise.race([quiet, new Promise((r) => setTimeout(r, everyMs))]);
  }
  await tick();
  return work;
}
