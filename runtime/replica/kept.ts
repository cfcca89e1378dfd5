/**
 * The upstream side of chaining at a replica: results kept for downstream replicas to pull,
 * and pulls waiting for them. The rules it keeps are those of runtime/wire/protocol.ts.
 */
import type { ErrorData } from "../../sdk/errors.ts";

export type Result = { ok: true; v: unknown } | { ok: false; e: ErrorData };

/** A pull waiting here: which thread asked, under which pull id, and how to answer it. */
export interface Puller {
  caller: string;
  id: number;
  answer(result: Result): void;
}

interface Entry {
  /** The call is here and its result will be kept (else the entry only holds early pulls). */
  expected: boolean;
  /** Set once the call ended with a value (kept until released). */
  result?: Result;
  pullers: Puller[];
}

export class KeptResults {
  /** By the thread that made the call, then its call id (no string key per call). */
  readonly #byCaller = new Map<string, Map<number, Entry>>();

  /** Whether anything is kept or awaited for call `id` of `caller`. */
  has(caller: string, id: number): boolean {
    return this.#byCaller.get(caller)?.has(id) ?? false;
  }

  /** The call will be kept: pulls that come wait for its result. */
  expect(caller: string, id: number): void {
    this.#entry(caller, id).expected = true;
  }

  /**
   * A pull for call `id` of `caller`. Answered now if the result is here; otherwise it waits,
   * also for a call that has not arrived yet or whose value went to its caller (invariant 1).
   */
  pull(caller: string, id: number, puller: Puller): void {
    const entry = this.#entry(caller, id);
    if (entry.result) puller.answer(entry.result);
    else entry.pullers.push(puller);
  }

  /** Withdraws a waiting pull; an entry nobody waits on and no call will fill is dropped. */
  unpull(caller: string, id: number, pullerThread: string, pullId: number): void {
    const entry = this.#byCaller.get(caller)?.get(id);
    if (!entry || entry.result) return;
    entry.pullers = entry.pullers.filter((p) => !(p.caller === pullerThread && p.id === pullId));
    if (entry.pullers.length === 0 && !entry.expected) this.#drop(caller, id);
  }

  /**
   * The kept call ended: every waiting pull gets the result. A value stays for later pulls until
   * its caller releases it; an error is dropped at once, since the caller got it and supplies it
   * to the pulls still to come (invariant 4).
   */
  settle(caller: string, id: number, result: Result): void {
    const entry = this.#byCaller.get(caller)?.get(id);
    if (!entry) return;
    const pullers = entry.pullers;
    entry.pullers = [];
    if (result.ok) entry.result = result;
    else this.#drop(caller, id);
    for (const p of pullers) p.answer(result);
  }

  /** The kept value of call `id` of `caller`, if it ended with one. */
  valueOf(caller: string, id: number): { v: unknown } | undefined {
    const result = this.#byCaller.get(caller)?.get(id)?.result;
    return result?.ok ? result : undefined;
  }

  /** The caller no longer needs the value. */
  release(caller: string, id: number): void {
    const entry = this.#byCaller.get(caller)?.get(id);
    if (entry?.result) this.#drop(caller, id);
  }

  /**
   * Thread `thread` went away: what was kept for it is dropped (pulls still waiting on its
   * calls get `error`), and the pulls it made here are forgotten.
   */
  threadGone(thread: string, error: ErrorData): void {
    const own = this.#byCaller.get(thread);
    this.#byCaller.delete(thread);
    for (const entry of own?.values() ?? []) for (const p of entry.pullers) p.answer({ ok: false, e: error });
    for (const [caller, calls] of this.#byCaller) {
      for (const [id, entry] of calls) {
        if (entry.result || !entry.pullers.some((p) => p.caller === thread)) continue;
        entry.pullers = entry.pullers.filter((p) => p.caller !== thread);
        if (entry.pullers.length === 0 && !entry.expected) calls.delete(id);
      }
      if (calls.size === 0) this.#byCaller.delete(caller);
    }
  }

  /** Entries held (kept values and waiting pulls), for tests that check nothing leaks. */
  get size(): number {
    let n = 0;
    for (const calls of this.#byCaller.values()) n += calls.size;
    return n;
  }

  #entry(caller: string, id: number): Entry {
    let calls = this.#byCaller.get(caller);
    if (!calls) this.#byCaller.set(caller, (calls = new Map()));
    let entry = calls.get(id);
    if (!entry) calls.set(id, (entry = { expected: false, pullers: [] }));
    return entry;
  }

  #drop(caller: string, id: number): void {
    const calls = this.#byCaller.get(caller);
    if (!calls) return;
    calls.delete(id);
    if (calls.size === 0) this.#byCaller.delete(caller);
  }
}
