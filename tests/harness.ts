/** Test harness: a tsserve instance on a free port, shut down when the test's scope ends. */
import { serve } from "tsserve";

export interface Served extends AsyncDisposable {
  url: string;
}

/** `await using s = await startServe();` then `fetch(s.url + "/...")`. */
export async function startServe(options: { requestTimeoutMs?: number | null } = {}): Promise<Served> {
  await serve.shutdown();
  const { httpUrl } = await serve.start({ http: { host: "127.0.0.1", port: 0, requestTimeoutMs: options.requestTimeoutMs ?? null } });
  return {
    url: httpUrl,
    async [Symbol.asyncDispose]() {
      await serve.shutdown();
    },
  };
}

/** Waits `ms` (Bun.sleep, on Deno too: the tests run on both). */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A full garbage collection, so a memory figure starts clean: Bun.gc, or V8's gc on Deno (scripts/test-deno.ts exposes it). */
export function collectGarbage(): void {
  const g = globalThis as { Bun?: { gc(sync: boolean): void }; gc?: () => void };
  if (g.Bun) g.Bun.gc(true);
  else g.gc?.();
}

/** Resolves when `check` returns truthy, polling every `everyMs`; fails after `timeoutMs`. */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 5000, everyMs = 20): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejection(p: PromiseLike<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected a rejection, got a value");
}

/** The error `f` throws (fails the test if it returns). */
export function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected a throw");
}
