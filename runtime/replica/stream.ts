/**
 * The producer side of a stream: pulls items from the user's (async) iterator while it has
 * credit, sends them in batches, and stops the iterator (running its `finally`) on cancel.
 */
import { errorToData } from "../../sdk/errors.ts";
import { K, type ToCaller } from "../wire/protocol.ts";
import type { BatchedPort } from "../wire/port.ts";
import { MAX_ITEMS_PER_MESSAGE, STREAM_WINDOW } from "../wire/window.ts";
import { isJsonSafe } from "../wire/json.ts";

export class Producer {
  #credit = STREAM_WINDOW;
  #wake: (() => void) | undefined;
  #stopped = false;
  #batch: unknown[] = [];
  #flushScheduled = false;

  constructor(
    readonly id: number,
    readonly port: BatchedPort<ToCaller, unknown>,
    readonly iterator: Iterator<unknown> | AsyncIterator<unknown>,
  ) {}

  grant(n: number): void {
    this.#credit += n;
    this.#wake?.();
  }

  /** Stops the producer; its iterator's `return()` runs its `finally`. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#wake?.();
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Runs to the end (or until stopped). Resolves true if the stream ended by itself. */
  async run(): Promise<void> {
    const it = this.iterator;
    try {
      for (;;) {
        if (this.#credit <= 0 && !this.#stopped) {
          this.#flush();
          await new Promise<void>((resolve) => (this.#wake = resolve));
          this.#wake = undefined;
        }
        if (this.#stopped) break;
        let r = it.next();
        if (r instanceof Promise) r = await r;
        if (this.#stopped) break;
        const step = r as IteratorResult<unknown>;
        if (step.done) {
          this.#flush();
          this.port.send({ k: K.End, id: this.id }, undefined, true);
          return;
        }
        this.#credit--;
        this.#push(step.value);
      }
    } catch (err) {
      this.#flush();
      this.port.send({ k: K.Err, id: this.id, e: errorToData(err) }, undefined, true);
      return;
    }
    // Stopped by the consumer: run the producer's `finally`.
    this.#batch = [];
    try {
      await it.return?.();
    } catch {
      // An error from `finally` has nowhere to go: the consumer left.
    }
  }

  #push(item: unknown): void {
    this.#batch.push(item);
    if (this.#batch.length >= MAX_ITEMS_PER_MESSAGE) return this.#flush();
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => {
        this.#flushScheduled = false;
        if (!this.#stopped) this.#flush();
      });
    }
  }

  #flush(): void {
    if (this.#batch.length === 0) return;
    const items = this.#batch;
    this.#batch = [];
    this.port.send({ k: K.Items, id: this.id, v: items }, undefined, isJsonSafe(items));
  }
}
