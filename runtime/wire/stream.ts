/**
 * A streaming call as its consumer sees it: items buffered in order, credit granted back as
 * they are read (so the producer stays at most a window ahead), an error after the items
 * before it, and cancel. An HTTP call is one of these too: its first answer is the response
 * head, followed by body chunks when the response streams.
 */
import type { Transferable } from "../../sdk/transfer.ts";
import { errorFromData, RequestCancelledError } from "../../sdk/errors.ts";
import type { StreamCall } from "../../sdk/runtime.ts";
import { nextId } from "./ids.ts";
import { type CancelScope, enter, leave } from "./scope.ts";
import { isJsonSafe } from "./json.ts";
import type { ReplicaLink, Receiver } from "./link.ts";
import { type CallMsg, type HttpResponseData, K, type ToCaller } from "./protocol.ts";
import type { Routable, Router } from "../router/router.ts";
import { CREDIT_EVERY } from "./window.ts";

const NONE: unknown[] = [];

export class OutgoingStream implements StreamCall, Routable, Receiver {
  readonly id = nextId();
  link: ReplicaLink | undefined;
  get modelId(): string {
    return this.msg.ctx.modelId ?? "";
  }
  #state: "queued" | "sent" | "done" = "queued";
  #counted = false;
  /** Items not read yet; `NONE` (never written to) until the first arrive, as most HTTP calls get none. */
  #items: unknown[] = NONE;
  #at = 0;
  #ended = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;
  #read = 0;
  /**
   * For HTTP calls: told once, with the response head (status, headers; the body too unless it
   * streams) or with the error that ended the call before a head came. A callback rather
   * than a promise: the proxy answers straight from it, with no promise of its own per request.
   */
  onHead: ((head: HttpResponseData | undefined, err?: Error) => void) | undefined;
  /** The request this call was made from (cancelling it cancels this call). */
  readonly #scope: CancelScope | undefined;
  /** Buffers to move with the call (an HTTP body). */
  transfer: Transferable[] | undefined;

  constructor(
    readonly router: Router,
    readonly msg: CallMsg,
    parent: CancelScope | undefined,
  ) {
    msg.id = this.id;
    this.#scope = parent;
    if (!enter(parent, this)) queueMicrotask(() => this.cancel());
  }

  start(): this {
    this.router.submit(this);
    return this;
  }

  dispatch(link: ReplicaLink): void {
    this.link = link;
    this.#counted = true;
    if (this.#state === "done") {
      // Cancelled while the router was handing it out: answer nothing, free the slot.
      this.#counted = false;
      link.release();
      return;
    }
    this.#state = "sent";
    // HTTP requests arrive one per callback, so end-of-tick batching never joins them; when the
    // replica is busy with earlier ones anyway, let this one wait a turn to share a message.
    const http = this.msg.http === true;
    const coalesce = http && link.inFlight > 1;
    // An HTTP request is strings and a header object, and its body (if any) moves: plain JSON.
    const json = !this.transfer && (http || isJsonSafe(this.msg.args));
    link.request(this.msg, this, this.transfer, json, coalesce);
  }

  receive(msg: ToCaller): boolean {
    switch (msg.k) {
      case K.Items:
        if (this.#state !== "done") {
          if (this.#items === NONE) this.#items = [];
          for (const v of msg.v) this.#items.push(v);
          this.#wakeReader();
        }
        return false;
      case K.Ok: {
        const head = msg.v as HttpResponseData;
        this.#tellHead(head);
        if (head?.streamed) return false;
        this.#finish();
        return true;
      }
      case K.End:
        this.#finish();
        return true;
      case K.Err:
        this.#finish(errorFromData(msg.e));
        return true;
    }
    return false;
  }

  fail(err: Error): void {
    this.#counted = false;
    this.#finish(err);
  }

  #finish(err?: Error): void {
    if (this.#counted) {
      this.#counted = false;
      this.link!.release();
    }
    leave(this.#scope, this);
    if (this.#state === "done") return;
    this.#state = "done";
    this.#ended = true;
    if (err) {
      this.#error = err;
      this.#tellHead(undefined, err);
    }
    this.#wakeReader();
  }

  #tellHead(head: HttpResponseData | undefined, err?: Error): void {
    const onHead = this.onHead;
    this.onHead = undefined;
    onHead?.(head, err);
  }

  #wakeReader(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /**
   * Every item already here, without waiting (at least one: waits for it if none is). An
   * HTTP body writes them as one chunk; the credit goes back as for `next()`.
   */
  async nextBatch(): Promise<unknown[] | undefined> {
    const first = await this.next();
    if (first.done) return undefined;
    const batch = [first.value];
    while (this.#at < this.#items.length) batch.push(this.#take());
    return batch;
  }

  async next(): Promise<IteratorResult<unknown>> {
    for (;;) {
      if (this.#at < this.#items.length) return { done: false, value: this.#take() };
      if (this.#error) throw this.#error;
      if (this.#ended) return { done: true, value: undefined };
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  /** The next item (there is one), granting credit back every CREDIT_EVERY items. */
  #take(): unknown {
    const value = this.#items[this.#at]!;
    this.#items[this.#at++] = undefined;
    if (this.#at > 4096 && this.#at * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#at);
      this.#at = 0;
    }
    if (++this.#read >= CREDIT_EVERY && this.#state === "sent") {
      this.link!.post({ k: K.Credit, id: this.id, n: this.#read });
      this.#read = 0;
    }
    return value;
  }

  /** Stops the producer. `quietly` (leaving a loop early): the stream just ends. */
  cancel(quietly = false): void {
    if (this.#state === "done") return;
    if (this.#state === "queued") this.router.withdraw(this);
    else this.link!.post({ k: K.Cancel, id: this.id });
    const wasSent = this.#state === "sent";
    this.#state = "done";
    this.#ended = true;
    this.#items = NONE;
    this.#at = 0;
    leave(this.#scope, this);
    const err = new RequestCancelledError(`request ${this.msg.ctx.requestId ?? this.id} was cancelled`);
    if (!quietly) this.#error = err;
    this.#tellHead(undefined, err);
    this.#wakeReader();
    // A sent stream's slot frees when the replica confirms it stopped (its End or Err).
    if (!wasSent && this.#counted) {
      this.#counted = false;
      this.link?.release();
    }
  }
}
