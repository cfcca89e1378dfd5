/**
 * WebSockets at the listener, Deno's way: `Deno.upgradeWebSocket(request)` gives the 101
 * response to answer with and a standard `WebSocket` whose events call the same session methods
 * as Bun's `websocket` handler (../websocket.ts). What Deno's socket lacks is made here:
 *
 * - No drain event, and `send()` says nothing: a socket reports what it holds unsent in
 *   `bufferedAmount` (every send adds to it until Deno's write finishes). So `send` answers
 *   false past HIGH_WATER bytes held, and a timer watches `bufferedAmount` until it falls to
 *   LOW_WATER, then tells the session it drained (as Bun's `drain`).
 * - No pause: Deno reads frames as they come. A paused socket holds what the client sends in
 *   order here and hands it on at `resume`; past Bun's own bound (`backpressureLimit`: the
 *   message limit plus 64 MiB) the client is closed with 1008 instead of holding more.
 * - No `maxPayloadLength`: a message over the limit closes the socket with 1009, as Bun does.
 * - The socket opens a few ticks after the 101 is answered, where Bun's opens at once. The
 *   session gets its client socket at once all the same (frames and a close the ingress sent
 *   meanwhile wait here, in order, and leave on `open`), so nothing above tells the two apart.
 */
import type { ClientSocket } from "../../wire/socket.ts";
import type { Frame } from "../../wire/protocol.ts";
import type { SocketLimits, SocketSession } from "../websocket.ts";

declare const Deno: any;

/** `send` answers false once the socket holds this much unsent (the client is slow). */
export const HIGH_WATER = 1024 * 1024;
/** ... and the session hears `drained` once it holds this little again. */
export const LOW_WATER = 64 * 1024;
/** How often a blocked socket's `bufferedAmount` is looked at (Deno fires no event for it). */
const DRAIN_POLL_MS = 2;
/** Above the message limit, what a paused socket may hold from its client (Bun's `backpressureLimit`). */
const HELD_BEYOND_LIMIT = 64 * 1024 * 1024;
/** Codes a server may not send in a close frame (RFC 6455 7.4.1): they mean "no code" or "no close frame". */
const NOT_SENDABLE = new Set([1005, 1006, 1015]);
const CONNECTING = 0;
const OPEN = 1;

/** The UTF-8 size of a text frame (exact only when it could be near `limit`: a UTF-16 unit is 1 to 3 bytes). */
function textBytes(s: string, limit: number): number {
  if (s.length > limit || s.length * 3 <= limit) return s.length;
  return new TextEncoder().encode(s).byteLength;
}

const frameBytes = (f: Frame, limit: number): number => (typeof f === "string" ? textBytes(f, limit) : f.byteLength);

/** One client's socket, driven by the proxy through `ClientSocket` and relaying its events to `session`. */
class DenoClientSocket implements ClientSocket {
  #paused = false;
  /** Frames the client sent while paused, in order, from `#heldAt` on. */
  #held: Frame[] = [];
  #heldAt = 0;
  #heldBytes = 0;
  #watching: ReturnType<typeof setTimeout> | undefined;
  /** Until the socket opens: frames to send, then perhaps a close. */
  #early: Frame[] = [];
  #earlyClose: { code: number; reason: string } | undefined;

  constructor(
    readonly ws: WebSocket,
    readonly session: SocketSession,
    readonly limits: SocketLimits,
  ) {}

  send(frames: Frame[]): boolean {
    const ws = this.ws;
    if (ws.readyState === CONNECTING) {
      if (this.#earlyClose === undefined) this.#early.push(...frames);
      // Nothing sent yet: hold the ingress's credit until the socket opened and sent these.
      return false;
    }
    // After a close began, frames are dropped (Bun's send does the same on a closed socket).
    if (ws.readyState !== OPEN) return true;
    for (let i = 0; i < frames.length; i++) ws.send(frames[i]!);
    if (ws.bufferedAmount <= HIGH_WATER) return true;
    this.#watch();
    return false;
  }

  /** Until the socket has sent enough of what it holds (or closed), look again every DRAIN_POLL_MS. */
  #watch(): void {
    if (this.#watching !== undefined) return;
    const look = () => {
      this.#watching = undefined;
      if (this.ws.readyState !== OPEN) return;
      if (this.ws.bufferedAmount <= LOW_WATER) return this.session.drained();
      this.#watching = setTimeout(look, DRAIN_POLL_MS);
    };
    this.#watching = setTimeout(look, DRAIN_POLL_MS);
  }

  /** The socket opened: what waited for it leaves now. */
  opened(): void {
    const early = this.#early;
    this.#early = [];
    // send() answered false while connecting: the session waits for `drained` (now, or once sent).
    if (early.length && this.send(early)) this.session.drained();
    const close = this.#earlyClose;
    this.#earlyClose = undefined;
    if (close) this.close(close.code, close.reason);
  }

  close(code: number, reason: string): void {
    if (this.ws.readyState === CONNECTING) {
      this.#earlyClose ??= { code, reason };
      return;
    }
    clearTimeout(this.#watching);
    try {
      if (NOT_SENDABLE.has(code)) this.ws.close();
      else this.ws.close(code, reason);
    } catch {
      // A reason over 123 bytes of UTF-8 (the close frame's room) is refused: close without it.
      this.ws.close(code);
    }
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    // Hand on what was held, until the session pauses again (it may, within this loop).
    while (!this.#paused && this.#heldAt < this.#held.length) {
      const f = this.#held[this.#heldAt]!;
      this.#held[this.#heldAt++] = "";
      this.#heldBytes -= frameBytes(f, this.limits.maxMessageBytes);
      this.session.message(f);
    }
    if (this.#heldAt === this.#held.length) {
      this.#held = [];
      this.#heldAt = 0;
    }
  }

  /** A frame from the client. */
  received(f: Frame): void {
    // Once a close began (ours, say a 1009), what the client still sends is not for the ingress.
    if (this.ws.readyState !== OPEN) return;
    const size = frameBytes(f, this.limits.maxMessageBytes);
    if (size > this.limits.maxMessageBytes) return this.close(1009, "Message too big");
    if (!this.#paused && this.#heldAt === this.#held.length) return this.session.message(f);
    this.#held.push(f);
    this.#heldBytes += size;
    if (this.#heldBytes > this.limits.maxMessageBytes + HELD_BEYOND_LIMIT) {
      this.#held = [];
      this.#heldAt = 0;
      this.#heldBytes = 0;
      this.close(1008, "the client sent too far ahead of the server");
    }
  }

  /** The socket is over: nothing more to watch or hand on. */
  ended(): void {
    clearTimeout(this.#watching);
    this.#early = [];
    this.#held = [];
    this.#heldAt = 0;
    this.#heldBytes = 0;
  }
}

/**
 * The listener's `upgrade` on Deno: the 101 response to answer with (carrying `headers`), or
 * false when the request cannot be upgraded. The session hears the socket's events from then on.
 */
export function denoUpgrade(limits: SocketLimits) {
  return (request: Request, options: { data: SocketSession; headers?: Record<string, string> }): Response | false => {
    let upgraded: { socket: WebSocket; response: Response };
    try {
      // Idle sockets stay open: Deno pings after this long without traffic (as Bun's idleTimeout 120 with sendPings).
      upgraded = Deno.upgradeWebSocket(request, { idleTimeout: 120 });
    } catch {
      return false;
    }
    const { socket: ws, response } = upgraded;
    for (const [name, value] of Object.entries(options.headers ?? {})) response.headers.set(name, value);
    const session = options.data;
    const client = new DenoClientSocket(ws, session, limits);
    ws.binaryType = "arraybuffer";
    session.opened(client);
    ws.onopen = () => client.opened();
    ws.onmessage = (ev: MessageEvent) => client.received(ev.data as Frame);
    ws.onclose = (ev: CloseEvent) => {
      client.ended();
      session.closed(ev.code, ev.reason);
    };
    return response;
  };
}
