/**
 * What both kinds of relayed socket in a replica share (websocket.ts runs them): the request
 * context the socket's code runs in, and the relay's credits both ways (wire/socket.ts).
 */
import { type RequestContext } from "../../sdk/context.ts";
import { errorToData } from "../../sdk/errors.ts";
import { type CancelScope, cancelChildren, SCOPE } from "../wire/scope.ts";
import { type Frame, type HttpResponseData, K, type SocketOpenMsg } from "../wire/protocol.ts";
import { allText, frameCost, framesToMove, SOCKET_GRANT_EVERY, SOCKET_WINDOW } from "../wire/socket.ts";
import type { CallerPort } from "./replica.ts";
import { toRequest } from "./http.ts";
import type { Sockets } from "./websocket.ts";

/** Frames items a generator yields: strings as text, bytes as binary (copied: the sender may reuse them), anything else as JSON text. */
export function toFrame(v: unknown): Frame {
  if (typeof v === "string") return v;
  if (v instanceof ArrayBuffer) return v.slice(0);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength).slice().buffer as ArrayBuffer;
  return JSON.stringify(v) ?? "";
}

export const frameBytes = (f: Frame): number => (typeof f === "string" ? f.length : f.byteLength);

/** What both kinds of socket share: the request context, and credits both ways. */
export abstract class RelayedSocket {
  readonly id: number;
  state: "opening" | "open" | "ended" = "opening";
  readonly ac = new AbortController();
  readonly scope: CancelScope & { cancelled: boolean } = { cancelled: false };
  readonly ctx: RequestContext;
  /** Units we may still send to the client. */
  #credit = SOCKET_WINDOW;
  #creditWake: (() => void) | undefined;
  #out: Frame[] = [];
  #flushSoon = false;
  /** The turn-end flush, cancelled when the frames left earlier (one less wake-up per answer). */
  #immediate: ReturnType<typeof setImmediate> | undefined;
  /** Units of client frames consumed and not yet granted back. */
  #due = 0;

  constructor(
    readonly sockets: Sockets,
    readonly from: CallerPort,
    readonly msg: SocketOpenMsg,
  ) {
    this.id = msg.id;
    const host = sockets.host;
    const ctx: RequestContext = {
      requestId: msg.ctx.requestId ?? String(msg.id),
      appName: host.appName,
      deploymentName: host.spec.name,
      replicaId: host.id,
      route: msg.ctx.route ?? "",
      multiplexedModelId: msg.ctx.modelId ?? "",
      signal: this.ac.signal,
    };
    // Handle calls made while serving the socket are cancelled when it closes.
    (ctx as { [SCOPE]?: CancelScope })[SCOPE] = this.scope;
    this.ctx = ctx;
  }

  abstract start(): void;
  abstract frames(v: Frame[]): void;
  /** The client closed: echo the close (the caller waits for it), then let user code clean up. */
  abstract clientClosed(code: number, reason: string): void;
  /** The replica stops and the socket is still open: close with 1001. */
  abstract goingAway(): void;
  /** The caller thread is gone: end without sending anything. */
  abstract lost(): void;

  request(): Request {
    return toRequest(this.msg.req, this.ac.signal);
  }

  accept(headers?: Record<string, string>): void {
    this.state = "open";
    this.from.port.send({ k: K.SocketAccepted, id: this.id, ...(headers && Object.keys(headers).length ? { headers } : {}) }, undefined, true);
  }

  /** The upgrade was answered with plain HTTP, or failed: no socket was opened. */
  refuse(res: HttpResponseData | undefined, err?: unknown): void {
    this.state = "ended";
    this.sockets.forget(this);
    if (res) this.from.port.send({ k: K.SocketRefused, id: this.id, res }, undefined, !(res.body instanceof ArrayBuffer));
    else this.from.port.send({ k: K.Err, id: this.id, e: errorToData(err) }, undefined, true);
  }

  get hasCredit(): boolean {
    return this.#credit > 0;
  }

  /** Resolves when there is credit again, or the socket ended. */
  waitCredit(): Promise<void> {
    return new Promise((resolve) => (this.#creditWake = resolve));
  }

  credit(n: number): void {
    this.#credit += n;
    const wake = this.#creditWake;
    this.#creditWake = undefined;
    wake?.();
    this.creditArrived();
  }

  /** For subclasses that hold frames back while there is no credit. */
  creditArrived(): void {}

  /**
   * Queues a frame to the client. Frames leave together: as soon as 256 wait, when the credit
   * runs out, when the generator waits for the client (flush(): an answer goes at once), and
   * otherwise once per event-loop turn (`soon`: at the end of this tick, for handlers that
   * answer a message and are done).
   */
  sendFrame(f: Frame, soon = false): void {
    this.#out.push(f);
    this.#credit -= frameCost(f);
    if (this.#out.length >= 256 || this.#credit <= 0) return this.flush();
    if (!this.#flushSoon) {
      this.#flushSoon = true;
      if (soon) queueMicrotask(this.flush);
      else this.#immediate = setImmediate(this.flush);
    }
  }

  flush = (): void => {
    this.#flushSoon = false;
    if (this.#immediate) {
      clearImmediate(this.#immediate);
      this.#immediate = undefined;
    }
    const out = this.#out;
    if (out.length === 0) return;
    this.#out = [];
    this.from.port.send({ k: K.SocketFrames, id: this.id, v: out }, framesToMove(out), allText(out));
  };

  /** A client frame was consumed by user code: grant its units back, a quarter window at a time. */
  consumed(f: Frame): void {
    if (this.state !== "open") return;
    this.#due += frameCost(f);
    if (this.#due >= SOCKET_GRANT_EVERY) {
      this.from.port.send({ k: K.SocketCredit, id: this.id, n: this.#due }, undefined, true);
      this.#due = 0;
    }
  }

  /**
   * Ends the socket: what was queued goes first, then the close; the request's signal fires.
   * Keeps the relay's invariant (wire/socket.ts): one `SocketClose` per accepted socket, sent
   * here once (`ended` after), and a caller's close for a socket already ended finds nothing
   * in `Sockets.receive` and is not echoed.
   */
  end(code: number, reason: string, send = true): void {
    if (this.state === "ended") return;
    this.state = "ended";
    if (send) {
      this.flush();
      this.from.port.send({ k: K.SocketClose, id: this.id, code, reason }, undefined, true);
    } else this.#out = [];
    this.sockets.forget(this);
    this.scope.cancelled = true;
    cancelChildren(this.scope);
    this.ac.abort();
    const wake = this.#creditWake;
    this.#creditWake = undefined;
    wake?.();
  }
}

