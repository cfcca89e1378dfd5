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
import type { Upgrading } from "../platform/websocket.ts";
import { wholeResponse } from "./body.ts";
import type { AppHealth } from "./proxy.ts";
import type { RouteTable } from "./routes.ts";

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

  constructor(
    readonly client: Client,
    readonly routes: RouteTable,
    readonly appHealth: AppHealth,
    /** As for HTTP: an upgrade the ingress has not answered after this long gets 408 (null: never). */
    readonly requestTimeoutMs: number | null = null,
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

  /** Answers an upgrade request: undefined once the listener took the connection, else an HTTP error. */
  upgrade(request: Request, server: Upgrading | undefined, url: string = request.url): Response | Promise<Response | undefined> {
    const pathStart = url.indexOf("/", url.indexOf("//") + 2);
    const queryStart = url.indexOf("?", pathStart);
    const path = pathStart < 0 ? "/" : url.slice(pathStart, queryStart < 0 ? undefined : queryStart);
    const headers = headersToObject(request.headers);
    const requestId = headers["x-request-id"] || newRequestId();
    const route = this.routes.match(path);
    if (!route) return text(404, `Path '${path}' not found. Ping ${url.slice(0, pathStart)}/-/routes for available routes.`, requestId);
    if (this.appHealth(route.appName) === "failed") {
      return text(503, `Application '${route.appName}' is unavailable because it failed to deploy.`, requestId);
    }
    const req: HttpRequestData = {
      method: "GET",
      url: route.prefix === "/" ? url : `${url.slice(0, pathStart)}${path.slice(route.prefix.length) || "/"}${queryStart < 0 ? "" : url.slice(queryStart)}`,
      headers,
      body: null,
    };
    const ctx: CallContext = { requestId, route: route.prefix };
    const modelId = headers["serve_multiplexed_model_id"];
    if (modelId) ctx.modelId = modelId;
    const socket = new OutgoingSocket(this.client.router(route, "proxy"), req, ctx, server?.requestIP?.(request)?.address);
    return new Promise((resolve) => {
      // Until the ingress answers, the upgrade is a request: it times out, and a client that
      // leaves gives it up (upgrades are rare enough for an abort listener each).
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeoutMs = this.requestTimeoutMs;
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
        const refused = upgradeSocket(request, server, session, { ...answer.headers, "x-request-id": requestId });
        if (refused) socket.clientClosed(1006, "the upgrade did not complete");
        resolve(refused);
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
