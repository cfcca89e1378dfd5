/**
 * Every deployment target defined in this thread, by where it was defined. A replica
 * imports the defining module and then looks its target up here.
 */
import type { Location } from "./location.ts";

/** The identity of a target: its module and the call site (with an ordinal for loops). */
export interface Source {
  file: string;
  key: string;
}

const targets = new Map<string, unknown>();
const perSite = new Map<string, number>();
const waiters = new Set<() => void>();

/** Records a target defined at `loc`, returning its source. */
export function registerTarget(loc: Location, target: unknown): Source {
  const site = `${loc.file}:${loc.site}`;
  const n = perSite.get(site) ?? 0;
  perSite.set(site, n + 1);
  const key = n === 0 ? loc.site : `${loc.site}#${n}`;
  targets.set(`${loc.file}|${key}`, target);
  for (const wake of waiters) wake();
  return { file: loc.file, key };
}

/** The target defined at `source`, if its module has defined it by now. */
export function findTarget(source: Source): unknown {
  return targets.get(`${source.file}|${source.key}`);
}

/** Calls `wake` after each new definition, until the returned function is called. */
export function onDefinition(wake: () => void): () => void {
  waiters.add(wake);
  return () => waiters.delete(wake);
}
