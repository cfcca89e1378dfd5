/** At most `limit` requests run at once in a replica; the rest wait here in order. */
export class Semaphore {
  #running = 0;
  #waiting: (() => void)[] = [];

  constructor(public limit: number) {}

  get running(): number {
    return this.#running;
  }

  /** Takes a slot now (true) or returns false; see `acquire` to wait. */
  tryAcquire(): boolean {
    if (this.#running < this.limit && this.#waiting.length === 0) {
      this.#running++;
      return true;
    }
    return false;
  }

  acquire(): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve();
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  release(): void {
    this.#running--;
    this.#wake();
  }

  /** A new limit (maxOngoingRequests changed in place). */
  resize(limit: number): void {
    this.limit = limit;
    this.#wake();
  }

  #wake(): void {
    while (this.#running < this.limit && this.#waiting.length) {
      this.#running++;
      this.#waiting.shift()!();
    }
  }
}
