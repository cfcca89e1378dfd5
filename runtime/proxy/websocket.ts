/**
 * WebSocket upgrades under an app's route prefix: the upgrade request is routed like any
 * request (queue, model affinity, backpressure), the ingress replica accepts or refuses it,
 * and only then does the listener complete the upgrade. Frames then flow both ways through
 * an `OutgoingSocket` (wire/socket.ts), which holds the flow control.
 */
import type { Client } from "../router/client.ts";
import { newRequestId } from "../router/client.ts";
import type { CallContext, Frame, HttpRequestData } from "../wire/protocol.ts";
import { headersToObject } from "../wire/headers.ts";
import { type ClientSocket, OutgoingSocket } from "../wire/socket.ts";
import { upgradeSocket, type SocketSession } from "../platform/index.ts";
import type { Listener } from "../platform/http.ts";
import { wholeResponse } from "./body.ts";
import { type Proxy, shuttingDown } from "./proxy.ts";
import { acceptedRequestId } from "./request_id.ts";
import { ingressUrl, pathAndQuery, pathStart } from "./url.ts";

const text = (status: number, body: string, requestId: string) =>
  new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8", "x-request-id": requestId } });

/** Is this request asking to become a WebSocket? (Only a GET can: RFC 6455 4.1.) */
export function isUpgrade(request: Request): boolean {
  return request.headers.get("upgrade")?.toLowerCase() === "websocket" && request.method === "GET";
}

export class WebSockets {
  /** Open sockets per application (for status and metrics). */
  readonly #open = new Map<string, number>();
  #total = 0;

  /** Routes, app health, draining and `requestTimeoutMs` are the HTTP proxy's: upgrades follow its rules. */
  constructor(
    readonly client: Client,
    readonly proxy: Proxy,
  ) {}

  /** Open sockets, in all applications or in one. */
  count(appName?: string): number {
    return appName === undefined ? this.#total : (this.#open.get(appName) ?? 0);
  }

  /** Open sockets by application, for a gauge labelled by application. */
  counts(): IterableIterator<[string, number]> {
    return this.#open.entries();
  }

  #add(appName: string, n: number): void {
    this.#total += n;
    this.#open.set(appName, (this.#open.get(appName) ?? 0) + n);
  }

  /**
   * Answers an upgrade request: undefined once the listener took the connection, else an HTTP
   * answer. Routed, named and refused exactly as `Proxy.handle` does a request (by the path
   * alone; 503 while draining).
   */
  upgrade(request: Request, listener?: Listener, url: string = request.url): Response | Promise<Response | undefined> {
    const { path, query } = pathAndQuery(url);
    const headers = headersToObject(request.headers);
    const sent = headers["x-request-id"];
    const requestId = acceptedRequestId(sent) ?? newRequestId();
    // An unfit id is replaced in the request too, as Proxy.handle does.
    if (sent !== undefined && sent !== requestId) headers["x-request-id"] = requestId;
    const proxy = this.proxy;
    if (proxy.draining) return shuttingDown(requestId);
    const origin = listener?.origin ?? (url.slice(0, pathStart(url)) || "http://localhost");
    const route = proxy.routes.match(path);
    if (!route) return text(404, `Path '${path}' not found. Ping ${origin}/-/routes for available routes.`, requestId);
    if (proxy.appHealth(route.appName) === "failed") {
      return text(503, `Application '${route.appName}' is unavailable because it failed to deploy.`, requestId);
    }
    const req: HttpRequestData = { method: "GET", url: ingressUrl(url, origin, path, query, route.prefix), headers, body: null };
    const ctx: CallContext = { requestId, route: route.prefix };
    const modelId = headers["serve_multiplexed_model_id"];
    if (modelId) ctx.modelId = modelId;
    const socket = new OutgoingSocket(this.client.router(route, "proxy"), req, ctx, listener?.requestIP?.(request)?.address);
    // An upgrade may wait for a replica to start (from zero, say): Bun's idle timeout must not
    // cut it meanwhile (it ends by its answer, requestTimeoutMs, or the client leaving).
    listener?.timeout(request, 0);
    return new Promise((resolve) => {
      // Until the ingress answers, the upgrade is a request: it times out, and a client that
      // leaves gives it up (upgrades are rare enough for an abort listener each).
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeoutMs = proxy.options.requestTimeoutMs;
      const gone = () => socket.abandon() && resolve(text(499, `Request ${requestId} was cancelled.`, requestId));
      request.signal.addEventListener("abort", gone, { once: true });
      if (timeoutMs) {
        timer = setTimeout(() => socket.abandon() && resolve(text(408, `Request ${requestId} timed out after ${timeoutMs / 1000}s.`, requestId)), timeoutMs);
      }
      socket.onAnswer = (answer) => {
        clearTimeout(timer);
        request.signal.removeEventListener("abort", gone);
        if (!answer.accepted) {
          if (answer.res) return resolve(wholeResponse(answer.res, requestId));
          return resolve(errorResponse(answer.err!, requestId, route.appName));
        }
        this.#add(route.appName, 1);
        socket.onEnd = () => this.#add(route.appName, -1);
        const session = new Session(socket);
        const upgraded = upgradeSocket(request, listener, session, { ...answer.headers, "x-request-id": requestId });
        if (upgraded.refused) socket.clientClosed(1006, "the upgrade did not complete");
        resolve(upgraded.response);
      };
      socket.start();
    });
  }
}

/** One client socket's events, handed to its relayed socket. */
class Session implements SocketSession {
  constructor(readonly socket: OutgoingSocket) {}

  opened(client: ClientSocket): void {
    this.socket.attach(client);
  }

  message(frame: Frame): void {
    this.socket.fromClient(frame);
  }

  drained(): void {
    this.socket.drained();
  }

  closed(code: number, reason: string): void {
    this.socket.clientClosed(code, reason);
  }
}

function errorResponse(err: Error, requestId: string, appName: string): Response {
  switch (err.name) {
    case "BackPressureError":
    case "DeploymentUnavailableError":
      return text(503, err.message, requestId);
    case "ReplicaDiedError":
      return text(500, `The replica serving request ${requestId} died before it answered: ${err.message}`, requestId);
  }
  console.error(`[tsserve] websocket ${requestId} to ${appName}: ${err.stack ?? `${err.name}: ${err.message}`}`);
  return text(500, "Internal Server Error", requestId);
}
