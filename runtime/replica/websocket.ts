/**
 * WebSockets inside the ingress replica. The proxy relays a client's socket here (see
 * wire/socket.ts for the messages and their flow control); this side runs it as
 *   - a class ingress's `async *websocket(messages, request)` (generator_socket.ts): `messages`
 *     yields what the client sends, each value the generator yields goes to the client; it
 *     returns: close 1000; it throws: close 1011 (logged with the request id); the client
 *     closes: `messages` ends, the request's signal fires and the generator's `finally` runs;
 *   - an Elysia ingress's `.ws()` routes (elysia_socket.ts): the replica has no server, so the
 *     upgrade request goes through the app's own `fetch`, Elysia's route handler calls
 *     `server.upgrade()` on a stand-in server and the handlers it passes (open, message, drain,
 *     close) are driven from the relayed frames with a stand-in for Bun's ServerWebSocket.
 * What both share (request context, credits) is relayed_socket.ts.
 */
import type { DeploymentSpec } from "../../sdk/graph.ts";
import { type HttpResponseData, K, type SocketOpenMsg, type SocketToReplica } from "../wire/protocol.ts";
import type { CallerPort } from "./replica.ts";
import type { RelayedSocket } from "./relayed_socket.ts";
import { GeneratorSocket } from "./generator_socket.ts";
import { ElysiaSocket } from "./elysia_socket.ts";

/** What the sockets need of their replica. */
export interface SocketHost {
  readonly id: string;
  readonly appName: string;
  readonly spec: DeploymentSpec;
  readonly instance: any;
}

/** The open sockets of one replica, by caller thread and socket id. */
export class Sockets {
  readonly #open = new Map<string, Map<number, RelayedSocket>>();
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

  forget(s: RelayedSocket): void {
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

