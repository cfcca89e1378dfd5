/** Deployment progress: one line per deployment whenever its replicas-ready count changes. */
import type { ServeStatus } from "../sdk/status.ts";
import { dim, out, red } from "./output.ts";

export interface ProgressView {
  applications: ServeStatus["applications"];
  /** Replicas each deployment starts with: `{ app: { deployment: n } }`. */
  targets: Record<string, Record<string, number>>;
}

export class Progress {
  readonly #last = new Map<string, string>();

  constructor(readonly apps: string[]) {}

  /** Prints the deployments of `apps` whose line changed since the last update. */
  update(view: ProgressView): void {
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
        if (this.#last.get(key) === line) continue;
        this.#last.set(key, line);
        out(line);
      }
    }
  }
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
