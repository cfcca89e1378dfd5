/**
 * One end of a data-plane MessagePort, with batching: every message posted in the same
 * tick leaves in one postMessage (an array), which is what makes small calls cheap.
 */
import type { Transferable } from "../../sdk/transfer.ts";

/**
 * A batch leaves as soon as it is this long, without waiting for the end of the tick: the other
 * thread starts on it while this one makes the rest. Unbounded, the answers to 256 calls come
 * back as one batch and the two threads take turns instead of working at the same time.
 */
const MAX_BATCH = 64;

export type Handler<In> = (msg: In) => void;

/**
 * What a batched port needs of its MessagePort. A cluster's bridge (cluster/bridge.ts) gives
 * the main thread a port of its own that sends each batch over NATS as it is posted.
 */
export interface PortLike {
  postMessage(message: unknown, transfer: Transferable[]): void;
  onmessage: MessagePort["onmessage"];
  close(): void;
}


export class BatchedPort<Out, In> {
  #queue: Out[] = [];
  #transfer: Transferable[] = [];
  /** Each message's own transfer list, used only when a batch must be split. */
  #owned = new Map<Out, Transferable[]>();
  #soon = false;
  #later = false;
  #closed = false;

  constructor(
    readonly port: PortLike,
    onMessage?: Handler<In>,
  ) {
    if (onMessage) this.listen(onMessage);
  }

  /** Starts delivering messages (until then they wait in the port). */
  listen(onMessage: Handler<In>): void {
    this.port.onmessage = (ev) => {
      const data = ev.data;
      const batch = (typeof data === "string" ? JSON.parse(data) : data) as In[];
      for (let i = 0; i < batch.length; i++) onMessage(batch[i]!);
    };
  }

  /** Whether every message queued this tick may travel as JSON text. */
  #allJson = true;

  /**
   * Queues a message; it leaves at the end of this tick with the others. `json`: the sender
   * vouches that the message is plain JSON (see json.ts), so the batch may go as one string.
   * `coalesce`: the message may wait for the event loop's turn to leave with others.
   */
  send(msg: Out, transfer?: Transferable[], json = false, coalesce = false): void {
    if (this.#closed) return;
    this.#queue.push(msg);
    if (!json) this.#allJson = false;
    if (transfer?.length) {
      this.#transfer.push(...transfer);
      this.#owned.set(msg, transfer);
    }
    if (this.#queue.length >= MAX_BATCH) return this.#flush();
    // Alone: leave at the end of this tick, for latency. `coalesce` (the other side is busy
    // with earlier requests anyway): wait for the event loop's turn, so every request that
    // came in this turn shares one message and one wake-up of the other thread (about a
    // third less CPU per two-hop HTTP request, measured with bench/dev/http_cpu.ts).
    // A message that may not wait still leaves at the end of this tick, taking any that could.
    if (coalesce) {
      if (!this.#later) {
        this.#later = true;
        setImmediate(this.#flushLater);
      }
    } else if (!this.#soon) {
      this.#soon = true;
      queueMicrotask(this.#flush);
    }
  }

  /** Whether `msg` still waits in the batch (it has not been posted). */
  holds(msg: Out): boolean {
    return this.#queue.lastIndexOf(msg) >= 0;
  }

  #flushLater = (): void => {
    this.#later = false;
    this.#flush();
  };

  /** Posts what waits now, without waiting for the end of the tick or the loop's turn. */
  flush(): void {
    this.#flush();
  }

  #flush = (): void => {
    this.#soon = false;
    if (this.#closed || this.#queue.length === 0) return;
    const batch = this.#queue;
    const transfer = this.#transfer;
    const owned = this.#owned;
    this.#queue = [];
    this.#transfer = [];
    if (owned.size) this.#owned = new Map();
    const asJson = this.#allJson && transfer.length === 0;
    this.#allJson = true;
    try {
      if (asJson) return this.port.postMessage(JSON.stringify(batch), []);
      this.port.postMessage(batch, transfer);
    } catch {
      // A value that cannot be cloned: send one by one so only the guilty message fails.
      for (const msg of batch) this.#postAlone(msg, owned.get(msg) ?? []);
    }
  };

  #postAlone(msg: Out, transfer: Transferable[]): void {
    try {
      this.port.postMessage([msg], transfer);
    } catch (err) {
      this.onUnsendable?.(msg, err);
    }
  }

  /** Called for a message that could not be cloned (the sender turns it into an error). */
  onUnsendable?: (msg: Out, err: unknown) => void;

  close(): void {
    this.#closed = true;
    this.#queue = [];
    this.port.onmessage = null;
    this.port.close();
  }
}
