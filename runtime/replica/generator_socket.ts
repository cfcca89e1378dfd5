/** A class ingress's `async *websocket(messages, request)`, run for one relayed socket. */
import { requestScope } from "../../sdk/context.ts";
import type { Frame } from "../wire/protocol.ts";
import { RelayedSocket, toFrame } from "./relayed_socket.ts";

/** A class ingress's `async *websocket(messages, request)`. */
export class GeneratorSocket extends RelayedSocket {
  #inbox: Frame[] = [];
  #at = 0;
  #wake: (() => void) | undefined;
  #inputEnded = false;

  start(): void {
    this.accept();
    requestScope.run(this.ctx, () => this.#run());
  }

  /** What the client sends, as the generator reads it: each read grants its credit back. */
  readonly messages: AsyncIterable<string | Uint8Array> & AsyncIterator<string | Uint8Array> = {
    [Symbol.asyncIterator]() {
      return this;
    },
    next: async (): Promise<IteratorResult<string | Uint8Array>> => {
      for (;;) {
        if (this.#at < this.#inbox.length) {
          const f = this.#inbox[this.#at]!;
          this.#inbox[this.#at++] = undefined as unknown as Frame;
          if (this.#at === this.#inbox.length) {
            this.#inbox = [];
            this.#at = 0;
          }
          this.consumed(f);
          return { done: false, value: typeof f === "string" ? f : new Uint8Array(f) };
        }
        if (this.#inputEnded) return { done: true, value: undefined };
        // The generator waits for the client: what it yielded so far is an answer, send it now.
        this.flush();
        await new Promise<void>((resolve) => (this.#wake = resolve));
      }
    },
    return: async (): Promise<IteratorResult<string | Uint8Array>> => ({ done: true, value: undefined }),
  };

  async #run(): Promise<void> {
    let gen: AsyncIterator<unknown> | Iterator<unknown>;
    try {
      const value = this.sockets.host.instance.websocket(this.messages, this.request());
      if (!value || (typeof value[Symbol.asyncIterator] !== "function" && typeof value.next !== "function")) {
        throw new TypeError(`websocket(messages, request) of ${this.sockets.host.spec.name} must be an async generator method (async *websocket), got ${typeof value}`);
      }
      gen = typeof value[Symbol.asyncIterator] === "function" ? value[Symbol.asyncIterator]() : value;
      for (;;) {
        while (!this.hasCredit && this.state === "open") await this.waitCredit();
        if (this.state !== "open") break;
        const r = await gen.next();
        if (this.state !== "open") break;
        if (r.done) return this.end(1000, "");
        this.sendFrame(toFrame(r.value));
      }
    } catch (err) {
      if (this.state !== "open") return;
      console.error(`[tsserve] websocket ${this.ctx.requestId} to ${this.sockets.host.spec.name} failed: ${(err as Error)?.stack ?? err}`);
      return this.end(1011, "Internal Server Error");
    }
    // Closed by the client or the stop: the generator's `finally` runs.
    try {
      await gen.return?.(undefined);
    } catch {
      // Its `finally` threw: nobody is left to tell.
    }
  }

  frames(v: Frame[]): void {
    for (const f of v) this.#inbox.push(f);
    this.#wakeReader();
  }

  #wakeReader(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  clientClosed(code: number, reason: string): void {
    this.#inputEnded = true;
    this.end(code, reason);
    this.#wakeReader();
  }

  goingAway(): void {
    this.#inputEnded = true;
    this.end(1001, "the server is shutting down");
    this.#wakeReader();
  }

  lost(): void {
    this.#inputEnded = true;
    this.end(1006, "", false);
    this.#wakeReader();
  }
}

