/**
 * WebSockets inside the ingress replica. The proxy relays a client's socket here (see
 * wire/socket.ts for the messages and their flow control); this side runs it as
 *   - a class ingress's `async *websocket(messages, request)`: `messages` yields what the
 *     client sends, each value the generator yields goes to the client; it returns: close
 *     1000; it throws: close 1011 (logged with the request id); the client closes: `messages`
 *     ends, the request's signal fires and the generator's `finally` runs;
 *   - an Elysia ingress's `.ws()` routes: the replica has no server, so the upgrade request goes
 *     through the app's own `fetch`, Elysia's route handler calls `server.upgrade()` on a
 *     stand-in server (relayServer below) and the handlers it passes (open, message, drain,
 *     close) are driven from the relayed frames with a stand-in for Bun's ServerWebSocket.
 */
import { type RequestContext, requestScope } from "../../sdk/context.ts";
import { errorToData } from "../../sdk/errors.ts";
import type { DeploymentSpec } from "../../sdk/graph.ts";
import { type CancelScope, cancelChildren, SCOPE } from "../wire/scope.ts";
import { type Frame, type HttpResponseData, K, type SocketOpenMsg, type SocketToReplica } from "../wire/protocol.ts";
import { allText, frameCost, framesToMove, SOCKET_GRANT_EVERY, SOCKET_WINDOW } from "../wire/socket.ts";
import type { CallerPort } from "./replica.ts";
import { StreamedHttp, toRequest, toResponseData } from "./http.ts";

/** What the sockets need of their replica. */
export interface SocketHost {
  readonly id: string;
  readonly appName: string;
  readonly spec: DeploymentSpec;
  readonly instance: any;
}

/** Frames items a generator yields: strings as text, bytes as binary (copied: the sender may reuse them), anything else as JSON text. */
export function toFrame(v: unknown): Frame {
  if (typeof v === "string") return v;
  if (v instanceof ArrayBuffer) return v.slice(0);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength).slice().buffer as ArrayBuffer;
  return JSON.stringify(v) ?? "";
}

const frameBytes = (f: Frame): number => (typeof f === "string" ? f.length : f.byteLength);

/** The open sockets of one replica, by caller thread and socket id. */
export class Sockets {
  readonly #open = new Map<string, Map<number, Socket>>();
  #count = 0;
  #idle: (() => void)[] = [];
  /** Elysia pub/sub topics (`ws.subscribe`, `ws.publish`): within this replica. */
  readonly topics = new Map<string, Set<ElysiaSocket>>();

  constructor(readonly host: SocketHost) {}

  /** Open sockets (opening ones included). */
  get count(): number {
    return this.#count;
  }

  receive(from: CallerPort, msg: SocketToReplica): void {
    if (msg.k === K.SocketOpen) return this.#accept(from, msg);
    // Unknown: the socket ended here already, and its SocketClose is on its way to the caller.
    const s = this.#open.get(from.caller)?.get(msg.id);
    if (!s) return;
    switch (msg.k) {
      case K.SocketFrames:
        return s.frames(msg.v);
      case K.SocketCredit:
        return s.credit(msg.n);
      case K.SocketClose:
        return s.clientClosed(msg.code, msg.reason);
    }
  }

  #accept(from: CallerPort, msg: SocketOpenMsg): void {
    const inst = this.host.instance;
    const kind = this.host.spec.kind === "class" && typeof inst?.websocket === "function" ? "generator" : typeof inst?.fetch === "function" ? "elysia" : undefined;
    if (!kind) {
      const body = `deployment ${this.host.spec.name} does not accept WebSockets: give its class an async *websocket(messages, request) method, or serve an Elysia app with .ws() routes`;
      const res: HttpResponseData = { status: 404, headers: { "content-type": "text/plain; charset=utf-8" }, body };
      from.port.send({ k: K.SocketRefused, id: msg.id, res }, undefined, true);
      return;
    }
    let calls = this.#open.get(from.caller);
    if (!calls) this.#open.set(from.caller, (calls = new Map()));
    const socket = kind === "generator" ? new GeneratorSocket(this, from, msg) : new ElysiaSocket(this, from, msg);
    calls.set(msg.id, socket);
    this.#count++;
    socket.start();
  }

  forget(s: Socket): void {
    if (!this.#open.get(s.from.caller)?.delete(s.id)) return;
    if (--this.#count === 0) for (const wake of this.#idle.splice(0)) wake();
  }

  /**
   * Graceful stop: lets open sockets finish for up to `timeoutMs`, then closes the rest with
   * 1001 (going away), and gives those closes a turn to leave before the ports close.
   */
  async drain(timeoutMs: number): Promise<void> {
    if (this.#count === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([new Promise<void>((resolve) => this.#idle.push(resolve)), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    for (const calls of this.#open.values()) for (const s of [...calls.values()]) s.goingAway();
    await new Promise((resolve) => setTimeout(resolve, 0));
  }

  /** A caller thread went away: its sockets end without a word to it. */
  callerGone(caller: string): void {
    for (const s of [...(this.#open.get(caller)?.values() ?? [])]) s.lost();
  }
}

/** What both kinds of socket share: the request context, and credits both ways. */
abstract class Socket {
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

/** A class ingress's `async *websocket(messages, request)`. */
class GeneratorSocket extends Socket {
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

/** Bun's default for a socket's send buffer: past it, `send` drops the message and returns 0. */
const HELD_LIMIT = 16 * 1024 * 1024;

/** An Elysia `.ws()` route, driven through a stand-in for Bun's ServerWebSocket. */
class ElysiaSocket extends Socket {
  /** What Elysia's route handler passed to `server.upgrade()`: its handlers and context. */
  data: any;
  /** Frames sent past the credit (as Bun buffers past its backpressure): they leave as credit comes. */
  #held: Frame[] = [];
  #heldBytes = 0;
  #wantDrain = false;
  readonly topics = new Set<string>();
  readonly raw = serverWebSocket(this);

  start(): void {
    requestScope.run(this.ctx, () => this.#open()).catch((err) => {
      if (this.state === "opening") this.refuse(undefined, err);
    });
  }

  async #open(): Promise<void> {
    await relayElysia();
    // After each wait: the caller may have given up on the upgrade (its close was echoed).
    if (this.state !== "opening") return;
    const request = this.request();
    const slot: { options?: UpgradeOptions } = {};
    upgrades.set(request, slot);
    let res: unknown;
    try {
      res = await this.sockets.host.instance.fetch(request);
    } finally {
      upgrades.delete(request);
    }
    if (this.state !== "opening") return;
    if (!slot.options) {
      const answer = await refusal(res);
      return this.state === "opening" ? this.refuse(answer) : undefined;
    }
    this.data = slot.options.data;
    this.accept(headersOf(slot.options.headers));
    await this.data?.open?.(this.raw);
  }

  /** Each message goes to Elysia's handler at once, as in Bun; its credit comes back when the handler settles. */
  frames(v: Frame[]): void {
    for (const f of v) {
      const settled = () => this.consumed(f);
      let p: unknown;
      try {
        p = this.data?.message?.(this.raw, typeof f === "string" ? f : Buffer.from(f));
      } catch {
        // Elysia reports handler errors itself; the frame is consumed all the same.
      }
      if (p instanceof Promise) p.then(settled, settled);
      else settled();
    }
  }

  /** `ws.send` as Bun answers it: bytes sent, -1 when it had to wait (drain follows), 0 when dropped. */
  send(value: unknown): number {
    if (this.state !== "open") return 0;
    const f = toFrame(value);
    const size = Math.max(1, frameBytes(f));
    if (this.#held.length === 0 && this.hasCredit) {
      this.sendFrame(f, true);
      return size;
    }
    if (this.#heldBytes + size > HELD_LIMIT) return 0;
    this.#held.push(f);
    this.#heldBytes += size;
    this.#wantDrain = true;
    return -1;
  }

  override creditArrived(): void {
    while (this.#held.length && this.hasCredit && this.state === "open") {
      const f = this.#held.shift()!;
      this.#heldBytes -= Math.max(1, frameBytes(f));
      this.sendFrame(f, true);
    }
    if (this.#held.length === 0 && this.#wantDrain && this.state === "open") {
      this.#wantDrain = false;
      requestScope.run(this.ctx, () => this.data?.drain?.(this.raw));
    }
  }

  /** `ws.close()` from user code: Bun calls the route's close handler then too. */
  close(code = 1000, reason = ""): void {
    if (this.state !== "open") return;
    this.end(code, reason);
    this.#closed(code, reason);
  }

  #closed(code: number, reason: string): void {
    for (const t of this.topics) this.sockets.topics.get(t)?.delete(this);
    this.topics.clear();
    this.#held = [];
    requestScope.run(this.ctx, () => this.data?.close?.(this.raw, code, reason));
  }

  clientClosed(code: number, reason: string): void {
    this.end(code, reason);
    this.#closed(code, reason);
  }

  goingAway(): void {
    if (this.state === "opening") return this.refuse(undefined, new Error("the replica is stopping"));
    this.end(1001, "the server is shutting down");
    this.#closed(1001, "the server is shutting down");
  }

  lost(): void {
    this.end(1006, "", false);
    this.#closed(1006, "");
  }

  subscribe(topic: string): void {
    let set = this.sockets.topics.get(topic);
    if (!set) this.sockets.topics.set(topic, (set = new Set()));
    set.add(this);
    this.topics.add(topic);
  }

  unsubscribe(topic: string): void {
    this.sockets.topics.get(topic)?.delete(this);
    this.topics.delete(topic);
  }

  /** Sends to every socket of this replica subscribed to `topic` but this one (as Bun's `publishToSelf: false`). */
  publish(topic: string, value: unknown): number {
    let sent = 0;
    for (const s of this.sockets.topics.get(topic) ?? []) if (s !== this && s.send(value) !== 0) sent++;
    return sent;
  }
}

interface UpgradeOptions {
  data?: unknown;
  headers?: Record<string, string> | Headers | [string, string][];
}

/** The upgrade requests being served, and what Elysia's handler passed to `server.upgrade()` for each. */
const upgrades = new WeakMap<Request, { options?: UpgradeOptions }>();

/** The server Elysia sees inside a replica: `upgrade` hands the socket's handlers over. */
const relayServer = {
  upgrade(request: Request, options?: UpgradeOptions): boolean {
    const slot = upgrades.get(request);
    if (!slot) return false;
    slot.options = options ?? {};
    return true;
  },
  requestIP: () => null,
  timeout: () => {},
  publish: () => 0,
};

let relaying: Promise<void> | undefined;

/**
 * Makes Elysia apps in this replica find `relayServer` when they have no server of their own
 * (`app.getServer()`, which its `.ws()` route handler reads as `context.server`). Elysia is
 * imported only here, when a socket arrives at a deployment without `websocket()`: an app
 * that serves Elysia has loaded it already, and others pay nothing at start.
 */
function relayElysia(): Promise<void> {
  return (relaying ??= import("elysia").then(({ Elysia }) => {
    const proto = Elysia.prototype as unknown as { getServer(): unknown };
    const own = proto.getServer;
    proto.getServer = function (this: unknown) {
      return own.call(this) ?? relayServer;
    };
  }));
}

function headersOf(h: UpgradeOptions["headers"]): Record<string, string> | undefined {
  if (!h) return undefined;
  return h instanceof Headers || Array.isArray(h) ? Object.fromEntries(new Headers(h)) : { ...(h as Record<string, string>) };
}

/** The ingress answered the upgrade request with plain HTTP: that answer goes back to the client. */
async function refusal(res: unknown): Promise<HttpResponseData> {
  const data = await toResponseData(res, undefined);
  if (data instanceof StreamedHttp) {
    await data.stream.return?.(undefined);
    return { ...data.head, streamed: undefined, body: null };
  }
  return data;
}

/** A stand-in for Bun's ServerWebSocket, with the members Elysia's ElysiaWS binds. */
function serverWebSocket(s: ElysiaSocket): any {
  const raw = {
    get data() {
      return s.data;
    },
    get readyState() {
      return s.state === "open" ? 1 : s.state === "opening" ? 0 : 3;
    },
    remoteAddress: s.msg.ip ?? "",
    binaryType: "nodebuffer",
    send: (v: unknown) => s.send(v),
    sendText: (v: string) => s.send(v),
    sendBinary: (v: Uint8Array) => s.send(v),
    close: (code?: number, reason?: string) => s.close(code, reason),
    terminate: () => s.close(1006, ""),
    ping: () => 0,
    pong: () => 0,
    subscribe: (t: string) => s.subscribe(t),
    unsubscribe: (t: string) => s.unsubscribe(t),
    isSubscribed: (t: string) => s.topics.has(t),
    get subscriptions() {
      return [...s.topics];
    },
    publish: (t: string, v: unknown) => s.publish(t, v),
    publishText: (t: string, v: string) => s.publish(t, v),
    publishBinary: (t: string, v: Uint8Array) => s.publish(t, v),
    cork: <R>(f: (ws: unknown) => R): R => f(raw),
    getBufferedAmount: () => 0,
    pause: () => {},
    resume: () => {},
    isPaused: false,
  };
  return raw;
}
