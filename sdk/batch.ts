/**
 * Dynamic batching (API.md section 5): callers pass one item each, the batch function sees a
 * list. A batch runs when it is full or `batchWaitTimeoutMs` after its first item, with at
 * most `maxConcurrentBatches` running at once.
 */
import { requestScope } from "./context.ts";
import { RequestCancelledError } from "./errors.ts";
import { show } from "./options.ts";
import { observers } from "./observe.ts";

/** What `serve.batch(fn, options)` accepts. */
export interface BatchOptions {
  /** Items per batch, an integer >= 1. Default 10. */
  maxBatchSize?: number;
  /** How long a batch waits for more items after its first, in ms (>= 0). Default 10. */
  batchWaitTimeoutMs?: number;
  /** Batches that may run at once, an integer >= 1. Default 1. */
  maxConcurrentBatches?: number;
}

/** Run-time settings of a batched function, e.g. from `reconfigure(userConfig)`. */
export interface BatchControls {
  setMaxBatchSize(n: number): void;
  setBatchWaitTimeoutMs(ms: number): void;
}

/** A batched function: one item in, its result out. */
export type Batched<T, R> = ((item: T) => Promise<R>) & BatchControls;

/** A batched async generator: one item in, the stream of its elements out. */
export type StreamingBatched<T, R> = ((item: T) => AsyncGenerator<R, void, undefined>) & BatchControls;

const RULES = {
  maxBatchSize: ["an integer >= 1", (v: unknown) => Number.isInteger(v) && (v as number) >= 1],
  batchWaitTimeoutMs: ["a number of milliseconds >= 0", (v: unknown) => typeof v === "number" && Number.isFinite(v) && v >= 0],
  maxConcurrentBatches: ["an integer >= 1", (v: unknown) => Number.isInteger(v) && (v as number) >= 1],
} as const;

/**
 * A streaming consumer may fall this many elements behind before the batch function is
 * paused, the same bound as streaming responses (API.md section 2).
 */
const HIGH_WATER = 1000;

function checked(where: string, option: keyof typeof RULES, value: unknown): number {
  const [allowed, ok] = RULES[option];
  if (!ok(value)) throw new TypeError(`${where}: ${option} must be ${allowed}, got ${show(value)}`);
  return value as number;
}

/** Where a caller's results go: a promise, or the stream its generator reads. */
interface Outlet {
  readonly left: boolean;
  put(value: unknown): void;
  end(): void;
  fail(err: unknown): void;
  /** Resolves when the consumer can take more (streams only). */
  room?(): Promise<void>;
}

interface Caller {
  item: unknown;
  outlet: Outlet;
  joinedAt: number;
  /** Its wait timer fired. */
  due?: boolean;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/** A stream's buffer between the batch runner and the caller's generator. */
class Channel implements Outlet {
  left = false;
  #buffer: unknown[] = [];
  #end: { failed: boolean; err?: unknown } | undefined;
  // Resolvers of whoever waits; calling a stale one is a no-op.
  #wake = () => {};
  #roomed = () => {};

  put(value: unknown): void {
    this.#buffer.push(value);
    this.#wake();
  }
  end(): void {
    this.#end ??= { failed: false };
    this.#wake();
  }
  fail(err: unknown): void {
    this.#end = { failed: true, err };
    this.#wake();
  }
  /** The consumer stopped reading: drop what is buffered and never block the producer again. */
  leave(): void {
    this.left = true;
    this.#buffer = [];
    this.#roomed();
  }
  async room(): Promise<void> {
    while (!this.left && this.#buffer.length >= HIGH_WATER) await new Promise<void>((r) => (this.#roomed = r));
  }
  /** The next element; the batch's error comes after the elements before it. */
  async take(): Promise<IteratorResult<unknown, undefined>> {
    for (;;) {
      if (this.#buffer.length > 0) {
        const value = this.#buffer.shift();
        this.#roomed();
        return { value, done: false };
      }
      if (this.#end?.failed) throw this.#end.err;
      if (this.#end) return { value: undefined, done: true };
      await new Promise<void>((r) => (this.#wake = r));
    }
  }
}

class BatchQueue {
  maxBatchSize: number;
  batchWaitTimeoutMs: number;
  readonly maxConcurrentBatches: number;
  #queue: Caller[] = [];
  #running = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerFor: Caller | undefined;

  constructor(
    private readonly fn: (items: unknown[]) => unknown,
    readonly streaming: boolean,
    options: BatchOptions,
  ) {
    this.maxBatchSize = options.maxBatchSize ?? 10;
    this.batchWaitTimeoutMs = options.batchWaitTimeoutMs ?? 10;
    this.maxConcurrentBatches = options.maxConcurrentBatches ?? 1;
  }

  join(item: unknown, outlet: Outlet, signal: AbortSignal | undefined): Caller {
    const caller: Caller = { item, outlet, joinedAt: performance.now(), signal };
    if (signal?.aborted) {
      outlet.fail(cancelled());
      return caller;
    }
    if (signal) {
      caller.onAbort = () => {
        if (this.leave(caller)) outlet.fail(cancelled());
      };
      signal.addEventListener("abort", caller.onAbort, { once: true });
    }
    this.#queue.push(caller);
    this.pump();
    return caller;
  }

  /** Takes a caller out of the queue; false if its batch already started. */
  leave(caller: Caller): boolean {
    const at = this.#queue.indexOf(caller);
    if (at < 0) return false;
    this.#queue.splice(at, 1);
    caller.signal?.removeEventListener("abort", caller.onAbort!);
    if (this.#timerFor === caller) this.disarm();
    this.pump();
    return true;
  }

  /** Starts every batch that is full or due, while a slot is free. */
  pump(): void {
    while (this.#queue.length > 0 && this.#running < this.maxConcurrentBatches) {
      const head = this.#queue[0]!;
      const waited = performance.now() - head.joinedAt;
      if (this.#queue.length < this.maxBatchSize && !head.due && waited < this.batchWaitTimeoutMs) {
        return this.#arm(head, this.batchWaitTimeoutMs - waited);
      }
      this.disarm();
      const callers = this.#queue.splice(0, this.maxBatchSize);
      // The batch serves many requests, so it runs in none of their contexts (or signals).
      requestScope.exit(() => void this.#run(callers));
    }
  }

  #arm(head: Caller, ms: number): void {
    if (this.#timerFor === head) return;
    this.disarm();
    this.#timerFor = head;
    this.#timer = setTimeout(() => {
      this.#timer = this.#timerFor = undefined;
      head.due = true;
      this.pump();
    }, ms);
  }

  /** Forgets the wait timer, e.g. when the timeout changes; `pump()` sets a new one. */
  disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = this.#timerFor = undefined;
  }

  async #run(callers: Caller[]): Promise<void> {
    this.#running++;
    observers.batchRan(callers.length);
    for (const c of callers) c.signal?.removeEventListener("abort", c.onAbort!);
    let it: AsyncIterator<unknown> | undefined;
    try {
      const out = await this.fn(callers.map((c) => c.item));
      if (!this.streaming) {
        deliver(callers, out, "return");
      } else {
        it = (out as AsyncIterable<unknown>)[Symbol.asyncIterator]();
        while (!callers.every((c) => c.outlet.left)) {
          const step = await it.next();
          if (step.done) break;
          deliver(callers, step.value, "yield");
          await Promise.all(callers.map((c) => c.outlet.room?.()));
        }
      }
      for (const c of callers) c.outlet.end();
    } catch (err) {
      for (const c of callers) c.outlet.fail(err);
    } finally {
      // Stops the generator when every caller left or a step was malformed; a no-op once it is done.
      await it?.return?.()?.catch(() => {});
      this.#running--;
      this.pump();
    }
  }
}

function deliver(callers: Caller[], results: unknown, verb: "return" | "yield"): void {
  const isList = Array.isArray(results) || (ArrayBuffer.isView(results) && !(results instanceof DataView));
  if (!isList) {
    throw new TypeError(`serve.batch(): the batch function must ${verb} a list with one result per item, got ${describe(results)}`);
  }
  const list = results as ArrayLike<unknown>;
  if (list.length !== callers.length) {
    throw new TypeError(
      `serve.batch(): the batch function must ${verb} one result per item: got ${list.length} results for ${callers.length} items`,
    );
  }
  callers.forEach((c, i) => c.outlet.left || c.outlet.put(list[i]));
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === "object") return `an object (${value.constructor?.name ?? "Object"})`;
  return `a ${typeof value}`;
}

const cancelled = () => new RequestCancelledError("the request was cancelled while waiting for its batch to run");

function isAsyncGeneratorFunction(fn: unknown): boolean {
  return Object.prototype.toString.call(fn) === "[object AsyncGeneratorFunction]";
}

/**
 * Batches calls: the returned function takes one item and resolves to its result, while `fn`
 * receives up to `maxBatchSize` items at once and must return one result per item, in order.
 * An error (or a result list of the wrong length) fails every caller of that batch; a caller
 * whose request is cancelled before its batch runs leaves it with `RequestCancelledError`.
 *
 * If `fn` is an async generator function (`async function*`), the batch streams: each step
 * yields a list whose element i goes to caller i, and each caller gets an async generator of
 * its elements (so the method serves `options({ stream: true })` and HTTP streaming). A
 * streaming caller joins its batch when it first reads.
 *
 * `fn` is called without `this`: in a class, write it as an arrow function in a class field
 * (then `this` is the instance and the queue is per instance).
 *
 * @example
 * class Model {
 *   handle = serve.batch(async (inputs: number[]) => inputs.map((x) => x * 2), { maxBatchSize: 8 });
 *   async call(x: number) { return await this.handle(x); }
 *   reconfigure(config: { batchSize: number }) { this.handle.setMaxBatchSize(config.batchSize); }
 * }
 */
export function batch<T, R>(fn: (items: T[]) => AsyncIterable<R[]>, options?: BatchOptions): StreamingBatched<T, R>;
export function batch<T, R>(fn: (items: T[]) => Promise<R[]> | R[], options?: BatchOptions): Batched<T, R>;
export function batch(fn: (items: unknown[]) => unknown, options: BatchOptions = {}): unknown {
  if (typeof fn !== "function") throw new TypeError(`serve.batch(): the batch function must be a function taking a list of items, got ${show(fn)}`);
  if (options === null || typeof options !== "object") throw new TypeError(`serve.batch(): options must be an object, got ${show(options)}`);
  for (const [key, value] of Object.entries(options)) {
    if (!(key in RULES)) throw new TypeError(`serve.batch(): unknown option "${key}"; known options: ${Object.keys(RULES).join(", ")}`);
    if (value !== undefined) checked("serve.batch()", key as keyof typeof RULES, value);
  }
  const queue = new BatchQueue(fn, isAsyncGeneratorFunction(fn), options);
  const controls: BatchControls = {
    setMaxBatchSize(n) {
      queue.maxBatchSize = checked("setMaxBatchSize()", "maxBatchSize", n);
      queue.pump();
    },
    setBatchWaitTimeoutMs(ms) {
      queue.batchWaitTimeoutMs = checked("setBatchWaitTimeoutMs()", "batchWaitTimeoutMs", ms);
      queue.disarm();
      queue.pump();
    },
  };
  const call = queue.streaming
    ? (item: unknown) => stream(queue, item, requestScope.getStore()?.signal)
    : (item: unknown) =>
        new Promise((resolve, reject) => {
          queue.join(item, { left: false, put: resolve, end() {}, fail: reject }, requestScope.getStore()?.signal);
        });
  return Object.assign(call, controls);
}

/** One streaming caller. The signal is taken at call time, when the request context is sure to be current. */
async function* stream(queue: BatchQueue, item: unknown, signal: AbortSignal | undefined): AsyncGenerator<unknown, void, undefined> {
  const channel = new Channel();
  const caller = queue.join(item, channel, signal);
  try {
    for (;;) {
      const next = await channel.take();
      if (next.done) return;
      yield next.value;
    }
  } finally {
    channel.leave();
    queue.leave(caller);
  }
}
