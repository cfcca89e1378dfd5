/**
 * An Elysia ingress's `.ws()` routes, run for one relayed socket. The replica has no server, so
 * the upgrade request goes through the app's own `fetch`; Elysia's route handler calls
 * `server.upgrade()` on a stand-in server (relayServer below), and the handlers it passes (open,
 * message, drain, close) are driven from the relayed frames with a stand-in for Bun's
 * ServerWebSocket.
 */
import { requestScope } from "../../sdk/context.ts";
import type { Frame, HttpResponseData } from "../wire/protocol.ts";
import { StreamedHttp, toResponseData } from "./http.ts";
import { frameBytes, RelayedSocket, toFrame } from "./relayed_socket.ts";

/** Bun's default for a socket's send buffer: past it, `send` drops the message and returns 0. */
const HELD_LIMIT = 16 * 1024 * 1024;

/** An Elysia `.ws()` route, driven through a stand-in for Bun's ServerWebSocket. */
export class ElysiaSocket extends RelayedSocket {
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

