/** A class ingress's `async *websocket(messages, request)`, run for one relayed socket. */
import { requestScope } from "../../sdk/context.ts";
import type { Frame } from "../wire/protocol.ts";
import { RelayedSocket, toFrame } from "./relayed_socket.ts";

/**
 * A class ingress's `async *websocket(messages, request)`.
 *
 * Invariant: every frame the client sent before its close reaches `messages`, in order, before
 * `messages` ends. A close arrives with the frames before it (one port, in order) while the
 * generator may be busy (awaiting a downstream call, say, or suspended at a yield), so the
 * frames wait in the inbox and the generator is resumed after the close for as long as it
 * reads them: what it yields then is dropped (the client is gone), and a generator that yields
 * without reading (a ticker, an answer still streaming) is stopped at that yield as before.
 */
export class GeneratorSocket extends RelayedSocket {
  #inbox: Frame[] = [];
  #at = 0;
  #wake: (() => void) | undefined;
  #inputEnded = false;
  /** The client closed (not the replica): the generator may still read what came before the close. */
  #clientClosed = false;
  /** Frames the generator read since it was last resumed. */
  #reads = 0;

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
          this.#reads++;
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
        // Closed: resumed only while it reads what the client sent before closing (see above).
        if (this.state !== "open" && !(this.#clientClosed && this.#reads > 0)) break;
        this.#reads = 0;
        const r = await gen.next();
        if (r.done) return this.end(1000, "");
        if (this.state === "open") this.sendFrame(toFrame(r.value));
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
    this.#clientClosed = true;
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

