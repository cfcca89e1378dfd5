/** `DeploymentResponse` and `DeploymentResponseGenerator`: what `remote()` returns. */
import type { Call, StreamCall } from "./runtime.ts";

/** @internal Sees how a response ends (the handle uses it to place an unknown method's error at the caller's line). */
export interface ResponseWatch {
  fulfilled(): void;
  /** Returns the error to reject with. */
  rejected(err: unknown): unknown;
}

/** Lets the runtime find the call behind a response passed as an argument (chaining). */
export const CALL = Symbol.for("tsserve.call");

/**
 * The future result of `handle.remote(...)`. The request was sent already; await this (any
 * number of times) for its value, pass it to another `remote()` to chain without waiting,
 * or `cancel()` it.
 *
 * @example
 * const sum = adder.remote(5);
 * const product = multiplier.remote(sum);   // the value of `sum` goes replica to replica
 * console.log(await product);
 */
export class DeploymentResponse<T> implements PromiseLike<T> {
  #promise: Promise<T> | undefined;
  readonly #watch: ResponseWatch | undefined;
  /** @internal */
  readonly [CALL]: Call<T>;

  /** @internal */
  constructor(call: Call<T>, watch?: ResponseWatch) {
    this[CALL] = call;
    this.#watch = watch;
  }

  #settled(): Promise<T> {
    if (this.#promise) return this.#promise;
    const result = this[CALL].result();
    const watch = this.#watch;
    return (this.#promise = watch
      ? result.then(
          (v) => (watch.fulfilled(), v),
          (e) => {
            throw watch.rejected(e);
          },
        )
      : result);
  }

  then<A = T, B = never>(
    onfulfilled?: ((value: T) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: any) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.#settled().then(onfulfilled, onrejected);
  }

  catch<B = never>(onrejected?: ((reason: any) => B | PromiseLike<B>) | null): Promise<T | B> {
    return this.#settled().catch(onrejected);
  }

  finally(onfinally?: (() => void) | null): Promise<T> {
    return this.#settled().finally(onfinally);
  }

  /**
   * The value, or a `TimeoutError` when `timeoutMs` passes first. A timeout does not cancel
   * the request: it keeps running, and the response can still be awaited.
   */
  result(options: { timeoutMs?: number } = {}): Promise<T> {
    const { timeoutMs } = options;
    if (timeoutMs === undefined) return this.#settled();
    if (typeof timeoutMs !== "number" || !(timeoutMs >= 0)) {
      return Promise.reject(new TypeError(`result({ timeoutMs }) takes a number of milliseconds >= 0, got ${String(timeoutMs)}`));
    }
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new DOMException(`Response did not arrive within ${timeoutMs} ms.`, "TimeoutError")),
        timeoutMs,
      );
      this.#settled().then(
        (v) => (clearTimeout(timer), resolve(v)),
        (e) => (clearTimeout(timer), reject(e)),
      );
    });
  }

  /** Cancels the request: a queued one never runs, a running one sees its signal fire. */
  cancel(): void {
    this[CALL].cancel();
  }
}

/**
 * The items of a streaming call (`handle.options({ stream: true }).remote(...)`), in order.
 * Leaving a `for await` loop early, or `cancel()`, stops the producer.
 */
export class DeploymentResponseGenerator<T> implements AsyncIterableIterator<T> {
  /** @internal */
  readonly #call: StreamCall<T>;

  /** @internal */
  constructor(call: StreamCall<T>) {
    this.#call = call;
  }

  next(): Promise<IteratorResult<T>> {
    return this.#call.next();
  }

  async return(value?: any): Promise<IteratorResult<T>> {
    this.#call.cancel(true);
    return { done: true, value };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Stops the producer; pending and later reads end with `RequestCancelledError`. */
  cancel(): void {
    this.#call.cancel();
  }
}
