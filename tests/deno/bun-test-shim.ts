/**
 * `bun:test` on Deno, so one set of test files runs on both: deno.json maps "bun:test" here.
 * describe/test/hooks become Deno.test registrations (a test's name is its describe path joined
 * by " > ", as Bun prints it); `expect`, `spyOn` and `jest.fn` are Jest's own packages, whose
 * matchers Bun's copy, and fake timers are @sinonjs/fake-timers (as in Jest).
 *
 * A replica imports the test file that defines its deployment, and so this module too: in a
 * Worker every registration is a no-op, as under Bun.
 */
import { expect as jestExpect } from "expect";
import { fn, spyOn } from "jest-mock";
import FakeTimers from "@sinonjs/fake-timers";
import { SKIPPED_TESTS_ON_DENO } from "./skips.ts";

export { spyOn };

/** Matchers whose failures start with `label` (a Proxy, so `.not`, `.resolves` and extended matchers keep it). */
function labelled<T extends object>(matchers: T, label: string): T {
  return new Proxy(matchers, {
    get(target, key) {
      const v = Reflect.get(target, key);
      if (typeof v === "function") {
        return (...args: unknown[]) => {
          const fail = (e: unknown) => {
            if (e instanceof Error) e.message = `${label}\n${e.message}`;
            throw e;
          };
          try {
            const out = v.apply(target, args);
            return out instanceof Promise ? out.catch(fail) : out;
          } catch (e) {
            fail(e);
          }
        };
      }
      return v !== null && typeof v === "object" ? labelled(v, label) : v;
    },
  });
}

/** Jest's `expect`, plus Bun's second argument: a message that a failure starts with (`expect(x, "seed 4")`). */
export const expect = Object.assign(
  (value: unknown, label?: string) => (label === undefined ? jestExpect(value) : labelled(jestExpect(value), label)),
  jestExpect,
) as typeof jestExpect;

// Bun's matchers that Jest lacks.
const result = (pass: boolean, message: string) => ({ pass, message: () => message });
jestExpect.extend({
  toStartWith: (got: string, prefix: string) => result(typeof got === "string" && got.startsWith(prefix), `expected ${JSON.stringify(got)} to start with ${JSON.stringify(prefix)}`),
  toEndWith: (got: string, suffix: string) => result(typeof got === "string" && got.endsWith(suffix), `expected ${JSON.stringify(got)} to end with ${JSON.stringify(suffix)}`),
  toInclude: (got: string, part: string) => result(typeof got === "string" && got.includes(part), `expected ${JSON.stringify(got)} to include ${JSON.stringify(part)}`),
  toBeTrue: (got: unknown) => result(got === true, `expected ${String(got)} to be true`),
  toBeFalse: (got: unknown) => result(got === false, `expected ${String(got)} to be false`),
  toBeString: (got: unknown) => result(typeof got === "string", `expected a string, got ${typeof got}`),
  toBeNumber: (got: unknown) => result(typeof got === "number", `expected a number, got ${typeof got}`),
  toBeArray: (got: unknown) => result(Array.isArray(got), `expected an array`),
  toBeTypeOf: (got: unknown, type: string) => result(typeof got === type, `expected typeof ${type}, got ${typeof got}`),
  toBeOneOf: (got: unknown, options: unknown[]) => result(options.includes(got), `expected one of ${JSON.stringify(options)}, got ${JSON.stringify(got)}`),
  toContainKey: (got: object, key: string) => result(got !== null && typeof got === "object" && key in got, `expected key ${key}`),
  toBeEmpty: (got: { length?: number; size?: number }) => result((got?.length ?? got?.size ?? Object.keys(got ?? {}).length) === 0, `expected empty`),
});

declare const Deno: any;

type Hook = () => unknown | Promise<unknown>;
type Body = (...args: any[]) => unknown | Promise<unknown>;

interface Scope {
  name: string;
  parent: Scope | undefined;
  beforeAll: Hook[];
  afterAll: Hook[];
  beforeEach: Hook[];
  afterEach: Hook[];
  /** Tests registered in this scope or below, and how many have finished. */
  tests: number;
  finished: number;
  started: boolean;
}

const inWorker = typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== "undefined";

const newScope = (name: string, parent: Scope | undefined): Scope => ({ name, parent, beforeAll: [], afterAll: [], beforeEach: [], afterEach: [], tests: 0, finished: 0, started: false });
const root = newScope("", undefined);
let current = root;

/** Scopes from the outermost down to `s`. */
function chain(s: Scope): Scope[] {
  const out: Scope[] = [];
  for (let x: Scope | undefined = s; x; x = x.parent) out.unshift(x);
  return out;
}

/** Bun's per-test timeout under npm test (scripts/test.ts passes --timeout 30000). */
const TIMEOUT_MS = Number((globalThis as any).Deno?.env.get("TSSERVE_TEST_TIMEOUT_MS") ?? 30_000);

async function withTimeout(what: string, body: () => unknown, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      Promise.resolve().then(body),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs a test body the way bun:test does: a `done` callback if the function takes one. */
function invoke(body: Body, args: unknown[]): Promise<unknown> | unknown {
  if (body.length > args.length) return new Promise<void>((resolve, reject) => body(...args, (err?: unknown) => (err ? reject(err) : resolve())));
  return body(...args);
}

function register(name: string, body: Body | undefined, options: { skip?: string | false; timeout?: number } = {}, args: unknown[] = []): void {
  if (inWorker) return;
  const scope = current;
  const scopes = chain(scope);
  const fullName = [...scopes.slice(1).map((s) => s.name), name].join(" > ");
  if (!options.skip && fullName in SKIPPED_TESTS_ON_DENO) options = { ...options, skip: SKIPPED_TESTS_ON_DENO[fullName] };
  if (options.skip !== undefined && options.skip !== false) {
    Deno.test({ name: `${fullName} (skipped on Deno: ${options.skip})`, ignore: true, fn() {} });
    return;
  }
  for (const s of scopes) s.tests++;
  Deno.test({
    name: fullName,
    sanitizeOps: false,
    sanitizeResources: false,
    sanitizeExit: false,
    async fn() {
      try {
        for (const s of scopes) {
          if (s.started) continue;
          s.started = true;
          for (const h of s.beforeAll) await withTimeout(`beforeAll of ${s.name || "the file"}`, h, hookTimeout(h));
        }
        try {
          for (const s of scopes) for (const h of s.beforeEach) await withTimeout("beforeEach", h, hookTimeout(h));
          await withTimeout(`test "${fullName}"`, () => invoke(body!, args), options.timeout ?? TIMEOUT_MS);
        } finally {
          for (const s of [...scopes].reverse()) for (const h of s.afterEach) await withTimeout("afterEach", h, hookTimeout(h));
        }
      } finally {
        for (const s of [...scopes].reverse()) {
          if (++s.finished < s.tests) continue;
          for (const h of s.afterAll) await withTimeout(`afterAll of ${s.name || "the file"}`, h, hookTimeout(h));
        }
      }
    },
  });
}

type TestFn = {
  (name: string, body: Body, timeout?: number | { timeout?: number }): void;
  skip(name: string, body?: Body): void;
  todo(name: string, body?: Body): void;
  only(name: string, body: Body, timeout?: number): void;
  if(condition: boolean): (name: string, body: Body, timeout?: number) => void;
  skipIf(condition: boolean): (name: string, body: Body, timeout?: number) => void;
  each<T>(rows: readonly T[]): (name: string, body: (...args: any[]) => unknown, timeout?: number) => void;
};

const timeoutOf = (t: number | { timeout?: number } | undefined) => (typeof t === "number" ? t : t?.timeout);

/** `%s`, `%i`, `%d`, `%p`, `%j`, `%o` in a test.each name, filled from the row. */
function format(name: string, row: unknown[]): string {
  let i = 0;
  return name.replace(/%[sidpjo#%]/g, (m) => {
    if (m === "%%") return "%";
    if (m === "%#") return String(i);
    const v = row[i++];
    return m === "%s" ? String(v) : m === "%i" || m === "%d" ? String(Math.trunc(Number(v))) : JSON.stringify(v);
  });
}

export const test: TestFn = Object.assign((name: string, body: Body, timeout?: number | { timeout?: number }) => register(name, body, { timeout: timeoutOf(timeout) }), {
  skip: (name: string) => register(name, undefined, { skip: "test.skip" }),
  todo: (name: string) => register(name, undefined, { skip: "test.todo" }),
  only: (name: string, body: Body, timeout?: number) => register(name, body, { timeout }),
  if: (condition: boolean) => (name: string, body: Body, timeout?: number) => register(name, body, { timeout, skip: condition ? false : "its condition is false here" }),
  skipIf: (condition: boolean) => (name: string, body: Body, timeout?: number) => register(name, body, { timeout, skip: condition ? "its skip condition holds here" : false }),
  each:
    <T>(rows: readonly T[]) =>
    (name: string, body: (...args: any[]) => unknown, timeout?: number) => {
      for (const row of rows) {
        const args = Array.isArray(row) ? row : [row];
        register(format(name, args), body, { timeout }, args);
      }
    },
});
export const it = test;

type DescribeFn = {
  (name: string, body: () => void): void;
  skip(name: string, body: () => void): void;
  if(condition: boolean): (name: string, body: () => void) => void;
};

function describeIn(name: string, body: () => void): void {
  if (inWorker) return;
  const scope = newScope(name, current);
  current = scope;
  try {
    body();
  } finally {
    current = scope.parent!;
  }
}

export const describe: DescribeFn = Object.assign((name: string, body: () => void) => describeIn(name, body), {
  skip: (name: string) => register(name, undefined, { skip: "describe.skip" }),
  if: (condition: boolean) => (name: string, body: () => void) => (condition ? describeIn(name, body) : register(name, undefined, { skip: "its condition is false here" })),
});

/** A hook's own timeout, where it gave one (Bun's `beforeAll(fn, ms)`). */
const hookTimeouts = new WeakMap<Hook, number>();
const hook = (list: Hook[], h: Hook, timeout?: number | { timeout?: number }) => {
  const ms = timeoutOf(timeout);
  if (ms !== undefined) hookTimeouts.set(h, ms);
  list.push(h);
};
const hookTimeout = (h: Hook) => hookTimeouts.get(h) ?? TIMEOUT_MS;

export const beforeAll = (h: Hook, timeout?: number | { timeout?: number }) => hook(current.beforeAll, h, timeout);
export const afterAll = (h: Hook, timeout?: number | { timeout?: number }) => hook(current.afterAll, h, timeout);
export const beforeEach = (h: Hook, timeout?: number | { timeout?: number }) => hook(current.beforeEach, h, timeout);
export const afterEach = (h: Hook, timeout?: number | { timeout?: number }) => hook(current.afterEach, h, timeout);

// Jest's modern fake timers are @sinonjs/fake-timers too.
let clock: { tick(ms: number): number; uninstall(): void } | undefined;

export const jest = {
  fn,
  spyOn,
  useFakeTimers() {
    clock?.uninstall();
    clock = FakeTimers.install({ now: Date.now() }) as unknown as typeof clock;
  },
  useRealTimers() {
    clock?.uninstall();
    clock = undefined;
  },
  advanceTimersByTime(ms: number) {
    if (!clock) throw new Error("jest.advanceTimersByTime() needs jest.useFakeTimers() first");
    clock.tick(ms);
  },
};
export const mock = fn;
