/**
 * WebSockets at the listener, Bun's way: `server.upgrade()` in the fetch handler and one
 * `websocket` handler object for the whole server, whose events go to the session stored in
 * each socket's `data`. Deno's `Deno.upgradeWebSocket(request)` (a `WebSocket` per request, and
 * the 101 response to return) fits the same two calls: its `upgrade` answers that response
 * instead of true, and the socket's events call the same session methods (deno/websocket.ts).
 */
import type { ServerWebSocket, WebSocketHandler } from "bun";
import type { ClientSocket } from "../wire/socket.ts";
import type { Frame } from "../wire/protocol.ts";

/** What the proxy keeps per client socket: told about the socket's events. */
export interface SocketSession {
  opened(socket: ClientSocket): void;
  message(frame: Frame): void;
  drained(): void;
  closed(code: number, reason: string): void;
}

export interface SocketLimits {
  /** Largest message a client may send, in bytes; a larger one closes the socket with 1009. */
  maxMessageBytes: number;
}

/** The part of the listener an upgrade needs. */
export interface Upgrading {
  /**
   * Takes the connection for a WebSocket whose events go to `data`: true when the listener
   * answers by itself (Bun), the response to answer with (Deno: its 101), false when the
   * request cannot be upgraded.
   */
  upgrade?(request: Request, options: { data: SocketSession; headers?: Record<string, string> }): boolean | Response;
  requestIP?(request: Request): { address: string } | null;
}

/** How an upgrade ended: `response` is what the fetch handler answers (undefined: the listener took the connection). */
export type Upgraded = { refused: false; response: Response | undefined } | { refused: true; response: Response };

/** Completes an upgrade; refused (with a 400 to answer) when the request cannot be upgraded. */
export function upgradeSocket(request: Request, server: Upgrading | undefined, session: SocketSession, headers?: Record<string, string>): Upgraded {
  const taken = server?.upgrade?.(request, { data: session, headers });
  if (taken === true) return { refused: false, response: undefined };
  if (taken) return { refused: false, response: taken };
  return { refused: true, response: new Response("Expected a WebSocket upgrade request", { status: 400, headers: { "content-type": "text/plain; charset=utf-8" } }) };
}

/** Codes a server may not send in a close frame (RFC 6455 7.4.1): they mean "no code" or "no close frame". */
const NOT_SENDABLE = new Set([1005, 1006, 1015]);

function clientSocket(ws: ServerWebSocket<SocketSession>): ClientSocket {
  return {
    // -1: queued behind earlier frames (the client is slow); 0 would be dropped, which the
    // credits keep from happening (backpressureLimit below is above a window's worth).
    // Corked: the frames of one relayed batch leave in one write, not one syscall each.
    send: (frames) =>
      frames.length === 1
        ? ws.send(frames[0]!) > 0
        : ws.cork(() => {
            let ok = true;
            for (let i = 0; i < frames.length; i++) if (ws.send(frames[i]!) <= 0) ok = false;
            return ok;
          }),
    close(code, reason) {
      if (code === 1006) return ws.terminate();
      if (NOT_SENDABLE.has(code)) return ws.close();
      ws.close(code, reason);
    },
    pause: () => ws.pause(),
    resume: () => ws.resume(),
  };
}

/** Bun.serve's `websocket` option, relaying every event to the socket's session. */
export function bunWebSocketHandler(limits: SocketLimits): WebSocketHandler<SocketSession> {
  return {
    open(ws) {
      ws.binaryType = "arraybuffer";
      ws.data.opened(clientSocket(ws));
    },
    message(ws, message) {
      ws.data.message(message as unknown as Frame);
    },
    drain(ws) {
      ws.data.drained();
    },
    close(ws, code, reason) {
      ws.data.closed(code, reason);
    },
    maxPayloadLength: limits.maxMessageBytes,
    // Never reached while credits work: at most a window (about 32 MiB) plus one message waits.
    backpressureLimit: limits.maxMessageBytes + 64 * 1024 * 1024,
    // Idle sockets stay open: the server pings before the idle timeout, so a live client
    // answers and intermediaries see traffic.
    idleTimeout: 120,
    sendPings: true,
  };
}
