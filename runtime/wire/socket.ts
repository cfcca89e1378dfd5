/**
 * A relayed WebSocket as its caller (the proxy) sees it: opened through the router like a
 * request, then a two-way stream of frames with credits in both directions.
 *
 * Flow control, the same rule each way: a sender may have at most SOCKET_WINDOW credit units
 * of frames that its receiver has not consumed yet. The receiver grants units back as it
 * consumes (the proxy: once the client's socket took the frame without buffering it; the
 * replica: once the ingress read it). So a slow client stops the ingress's generator, a slow
 * ingress pauses reading from the client, and no buffer holds more than a window.
 *
 * Invariant (kept by replica/websocket.ts): for every socket the replica accepted, it sends
 * exactly one `SocketClose`, either its own or the echo of the caller's; the caller's receiver
 * lives until that arrives or the link dies, and sends nothing for the socket after its own
 * `SocketClose`.
 *
 * Invariant (kept here and in replica/generator_socket.ts): every frame sent before a close
 * reaches the other side's consumer once, in order, before the close. Here that holds when the
 * ingress's close (or its replica's death) comes before the client's socket is attached: the
 * frames that wait for it stay until `attach`, which sends them before the close.
 */
import { errorFromData } from "../../sdk/errors.ts";
import type { Router, Routable } from "../router/router.ts";
import { nextId } from "./ids.ts";
import type { ReplicaLink, Receiver } from "./link.ts";
import { type CallContext, type Frame, type HttpRequestData, type HttpResponseData, K, type ToCaller } from "./protocol.ts";

/** Credit units one side may have in flight per socket and direction. */
export const SOCKET_WINDOW = 512;
/**
 * Credit goes back once this many units are consumed. A sender out of credit has a whole
 * window unconsumed, so its receiver always gets this far and never leaves it waiting.
 */
export const SOCKET_GRANT_EVERY = SOCKET_WINDOW / 4;

/**
 * What a frame costs: one unit, plus one per 64 KiB (32 Ki UTF-16 units for text), so the
 * window bounds both the number of frames (512) and the bytes in flight (about 32 MiB).
 */
export function frameCost(f: Frame): number {
  return typeof f === "string" ? 1 + (f.length >> 15) : 1 + (f.byteLength >> 16);
}

/** Whether every frame may travel as JSON text (see port.ts): all text frames. */
export function allText(frames: Frame[]): boolean {
  for (let i = 0; i < frames.length; i++) if (typeof frames[i] !== "string") return false;
  return true;
}

/** Binary frames at least this large move between threads instead of being copied. */
const MOVE_FROM = 16 * 1024;

/**
 * The large binary frames of a batch, to transfer: Bun's structured clone copies an
 * ArrayBuffer slowly (a 2 MiB frame took tens of ms here), and every frame is the relay's own
 * (a fresh buffer from the listener, or the replica's copy of what user code sent).
 */
export function framesToMove(frames: Frame[]): ArrayBuffer[] | undefined {
  let move: ArrayBuffer[] | undefined;
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i]!;
    if (typeof f !== "string" && f.byteLength >= MOVE_FROM) (move ??= []).push(f);
  }
  return move;
}

/** The client's end of the socket, as the proxy drives it (platform/websocket.ts adapts Bun's). */
export interface ClientSocket {
  /** Sends frames in one write; false when some had to be buffered (the client is slow): wait for `drained`. */
  send(frames: Frame[]): boolean;
  close(code: number, reason: string): void;
  /** Stops reading from the client (TCP backpressure) until `resume`. */
  pause(): void;
  resume(): void;
}

/** How the upgrade request was answered by the ingress. */
export type SocketAnswer = { accepted: true; headers?: Record<string, string> } | { accepted: false; res?: HttpResponseData; err?: Error };

export class OutgoingSocket implements Routable, Receiver {
  readonly id = nextId();
  link: ReplicaLink | undefined;
  #state: "queued" | "opening" | "open" | "closing" | "closed" = "queued";
  #counted = false;
  /** The client's socket, once the upgrade completed. */
  #client: ClientSocket | undefined;
  /**
   * Frames from the ingress that came before the client's socket was there (at most a window).
   * Kept when the socket ends before `attach`: they go out before the close.
   */
  #early: Frame[] = [];
  /** A close from the ingress that came before the client's socket was there. */
  #earlyClose: { code: number; reason: string } | undefined;
  /** Units we may still send to the ingress. */
  #credit = SOCKET_WINDOW;
  #paused = false;
  /** Client frames waiting for the end of the tick, to leave as one message. */
  #out: Frame[] = [];
  #flushSoon = false;
  /** Units written to the client and not yet granted back to the ingress. */
  #due = 0;
  /** The client's socket is buffering: hold grants until it drains. */
  #blocked = false;

  /** Told once: accepted (complete the upgrade), or refused / failed (answer HTTP). */
  onAnswer: ((answer: SocketAnswer) => void) | undefined;
  /** Told once when the socket is over, whichever side ended it. */
  onEnd: (() => void) | undefined;

  constructor(
    readonly router: Router,
    readonly req: HttpRequestData,
    readonly ctx: CallContext,
    /** The client's address. */
    readonly ip?: string,
  ) {}

  get modelId(): string {
    return this.ctx.modelId ?? "";
  }

  start(): this {
    this.router.submit(this);
    return this;
  }

  /** The socket counts against `maxOngoingRequests` only while it opens: a long chat must not hold a request slot. */
  dispatch(link: ReplicaLink): void {
    this.link = link;
    this.#counted = true;
    if (this.#state === "closed") return this.#uncount();
    this.#state = "opening";
    link.request({ k: K.SocketOpen, id: this.id, req: this.req, ctx: this.ctx, ...(this.ip ? { ip: this.ip } : {}) }, this, undefined, true);
  }

  #uncount(): void {
    if (!this.#counted) return;
    this.#counted = false;
    this.link!.release();
  }

  #answer(a: SocketAnswer): void {
    const f = this.onAnswer;
    this.onAnswer = undefined;
    f?.(a);
  }

  receive(msg: ToCaller): boolean {
    switch (msg.k) {
      case K.SocketAccepted:
        this.#uncount();
        if (this.#state === "opening") this.#state = "open";
        this.#answer({ accepted: true, headers: msg.headers });
        return false;
      case K.SocketRefused:
        this.#uncount();
        this.#end();
        this.#answer({ accepted: false, res: msg.res });
        return true;
      case K.Err:
        this.#fail(errorFromData(msg.e));
        return true;
      case K.SocketFrames:
        if (this.#client) this.#write(msg.v);
        else if (this.#state === "open") this.#early.push(...msg.v);
        return false;
      case K.SocketCredit:
        this.#credit += msg.n;
        if (this.#paused && this.#credit > 0) {
          this.#paused = false;
          this.#client?.resume();
        }
        return false;
      case K.SocketClose:
        if (this.#client) this.#client.close(msg.code, msg.reason);
        else this.#earlyClose = { code: msg.code, reason: msg.reason };
        this.#end();
        return true;
    }
    return false;
  }

  /**
   * Gives up on an upgrade the ingress has not answered yet (it timed out, or the client left):
   * a queued one leaves the queue; an opening one is closed at the replica, whose echo (or
   * refusal) ends the receiver. False when there was nothing left to give up.
   */
  abandon(): boolean {
    if (this.#state !== "queued" && this.#state !== "opening") return false;
    this.onAnswer = undefined;
    if (this.#state === "queued") {
      this.router.withdraw(this);
      this.#end();
      return true;
    }
    this.#uncount();
    this.#state = "closing";
    this.link!.post({ k: K.SocketClose, id: this.id, code: 1001, reason: "the upgrade was abandoned" });
    return true;
  }

  /** The replica died, or the router refused the socket before sending it. */
  fail(err: Error): void {
    this.#counted = false;
    this.#fail(err);
  }

  #fail(err: Error): void {
    this.#uncount();
    const wasOpen = this.#state === "open";
    this.#end();
    if (!wasOpen) return this.#answer({ accepted: false, err });
    const reason = err.name === "ReplicaDiedError" ? "the replica serving this socket died" : "Internal Server Error";
    if (this.#client) this.#client.close(1011, reason);
    else this.#earlyClose = { code: 1011, reason };
  }

  #end(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    const f = this.onEnd;
    this.onEnd = undefined;
    f?.();
  }

  /** The upgrade completed: frames and a close that came early go out now. */
  attach(client: ClientSocket): void {
    this.#client = client;
    const early = this.#early;
    this.#early = [];
    if (early.length) this.#write(early);
    const close = this.#earlyClose;
    if (close) {
      this.#earlyClose = undefined;
      client.close(close.code, close.reason);
    }
  }

  #write(frames: Frame[]): void {
    if (!this.#client!.send(frames)) this.#blocked = true;
    for (let i = 0; i < frames.length; i++) this.#due += frameCost(frames[i]!);
    if (!this.#blocked && this.#due >= SOCKET_GRANT_EVERY) this.#grant();
  }

  #grant(): void {
    if (this.#due === 0 || this.#state !== "open") return;
    this.link!.post({ k: K.SocketCredit, id: this.id, n: this.#due });
    this.#due = 0;
  }

  /** The client's socket took everything it buffered: the ingress may send again. */
  drained(): void {
    this.#blocked = false;
    this.#grant();
  }

  /** A frame from the client, to the ingress; reading pauses when the ingress has no credit left for us. */
  fromClient(f: Frame): void {
    if (this.#state !== "open") return;
    this.#out.push(f);
    this.#credit -= frameCost(f);
    if (this.#credit <= 0 && !this.#paused) {
      this.#paused = true;
      this.#client?.pause();
    }
    if (!this.#flushSoon) {
      this.#flushSoon = true;
      queueMicrotask(this.#flush);
    }
  }

  #flush = (): void => {
    this.#flushSoon = false;
    const out = this.#out;
    if (out.length === 0 || this.#state !== "open") return;
    this.#out = [];
    this.link!.post({ k: K.SocketFrames, id: this.id, v: out }, allText(out), false, framesToMove(out));
  };

  /**
   * The client closed (or went away: 1006). The ingress hears it after the frames before it;
   * its echo (or the link's death) ends the receiver; until then what it sends is dropped.
   */
  clientClosed(code: number, reason: string): void {
    if (this.#state !== "open") return;
    this.#flush();
    this.#state = "closing";
    this.#client = undefined;
    this.#early = [];
    this.link!.post({ k: K.SocketClose, id: this.id, code, reason });
    const f = this.onEnd;
    this.onEnd = undefined;
    f?.();
  }
}
