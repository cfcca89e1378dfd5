/**
 * One scrape on the main thread: this thread's figures plus every replica's (asked over the
 * control plane, each within SCRAPE_WAIT_MS), merged by prom-client's AggregatorRegistry,
 * which sums counters, gauges and histogram buckets series by series, so histograms stay exact.
 *
 * Invariants, kept here:
 * - A scrape never waits longer than SCRAPE_WAIT_MS on a replica: one that is stuck counts
 *   with its last figures, one that is gone with its last counters and histograms.
 * - Counters never go backwards while an application lives: a replica that stops hands over
 *   its final figures (keepFinal), one that dies keeps those of its last scrape, and both stay
 *   in every later scrape (their gauges do not) until the application is deleted.
 */
import type { Registry } from "prom-client";
import type { Figure } from "../../sdk/figures.ts";
import { logger } from "../log/logger.ts";
import { threadFigures } from "./builtin.ts";

type Figures = Figure[];

/** How long a scrape waits for one replica's figures. */
export const SCRAPE_WAIT_MS = 500;

/** A replica as the scraper sees it. */
export interface FigureSource {
  readonly id: string;
  readonly appName: string;
  figures(): Promise<Figures>;
}

interface Kept {
  appName: string;
  figures: Figures;
}

/** Counters and histograms only: a gone replica's gauges (in flight, healthy) no longer hold. */
const typeOf = (m: Figure): string => m.type;
const monotonic = (f: Figures): Figures => f.filter((m) => typeOf(m) === "counter" || typeOf(m) === "histogram");

export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<undefined>((r) => {
    timer = setTimeout(() => r(undefined), ms);
  });
  return Promise.race([p.catch(() => undefined), expired]).finally(() => clearTimeout(timer));
}

export class Scraper {
  /** Live replicas' last figures, by replica id. */
  readonly #last = new Map<string, Kept>();
  /** Gone replicas' final counters and histograms, by replica id. */
  readonly #retired = new Map<string, Kept>();
  #warned = new Set<string>();

  constructor(public live: () => Iterable<FigureSource> = () => []) {}

  /** Every thread's metrics, merged, in the Prometheus text format. */
  async scrape(): Promise<string> {
    return (await this.merged()).metrics();
  }

  /** Every thread's metrics as one prom-client registry. */
  async merged(): Promise<Registry> {
    const live = [...this.live()];
    // Loaded at the first scrape, not at start: nothing else needs prom-client.
    const [{ AggregatorRegistry }, ...answers] = await Promise.all([import("prom-client"), ...live.map((r) => withTimeout(r.figures(), SCRAPE_WAIT_MS))]);
    const main = threadFigures(false);
    const liveIds = new Set<string>();
    live.forEach((r, i) => {
      liveIds.add(r.id);
      const figures = answers[i];
      if (figures) this.#last.set(r.id, { appName: r.appName, figures });
    });
    for (const [id, kept] of this.#last) {
      if (liveIds.has(id)) continue;
      this.#last.delete(id);
      if (!this.#retired.has(id)) this.#retired.set(id, { appName: kept.appName, figures: monotonic(kept.figures) });
    }
    const parts: Figures[] = [main];
    for (const k of this.#last.values()) parts.push(k.figures);
    for (const k of this.#retired.values()) parts.push(k.figures);
    return AggregatorRegistry.aggregate(this.#oneTypePerName(parts) as unknown as Parameters<typeof AggregatorRegistry.aggregate>[0]);
  }

  /** A stopping replica's final figures (its last word: nothing more will be counted there). */
  keepFinal(id: string, appName: string, figures: Figures): void {
    this.#last.delete(id);
    this.#retired.set(id, { appName, figures: monotonic(figures) });
  }

  /** An application was deleted: its gone replicas' figures go with it. */
  forgetApplication(appName: string): void {
    for (const [id, k] of this.#retired) if (k.appName === appName) this.#retired.delete(id);
  }

  /**
   * The same user metric name made with two types in two replicas cannot be merged: the
   * first type seen wins and the other is left out, with one warning.
   */
  #oneTypePerName(parts: Figures[]): Figures[] {
    const types = new Map<string, string>();
    return parts.map((figures) =>
      figures.filter((m) => {
        const t = types.get(m.name);
        if (t === undefined) types.set(m.name, typeOf(m));
        else if (t !== typeOf(m)) {
          if (!this.#warned.has(m.name)) {
            this.#warned.add(m.name);
            logger.warn(`metric "${m.name}" is a ${t} in one replica and a ${typeOf(m)} in another; the ${typeOf(m)} is left out of scrapes`);
          }
          return false;
        }
        return true;
      }),
    );
  }
}

/** The main thread's scraper (the main runtime tells it where the replicas are). */
export const scraper = new Scraper();
