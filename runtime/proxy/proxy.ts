/**
 * The HTTP proxy: matches the route prefix, sends the request to the app's ingress replica
 * through the proxy's router, and turns the answer into a Response. Testable without a
 * socket: `proxy.handle(new Request(...))`.
 */
import type { BackPressureError } from "../../sdk/errors.ts";
import type { Client } from "../router/client.ts";
import { newRequestId } from "../router/client.ts";
import type { CallContext, HttpRequestData } from "../wire/protocol.ts";
import { headersToObject } from "../wire/headers.ts";
import { streamedResponse, wholeResponse } from "./body.ts";
import type { OutgoingStream } from "../wire/stream.ts";
import { type Route, RouteTable } from "./routes.ts";
import { ingressUrl, pathAndQuery, pathStart } from "./url.ts";
import type { Listener } from "../platform/index.ts";
import { acceptedRequestId } from "./request_id.ts";
import { logger } from "../log/logger.ts";

export interface ProxyOptions {
  /** Largest request body accepted, in bytes (default 100 MiB). */
  maxBodyBytes: number;
  /** Cancel a request that has not answered after this long (null: never). */
  requestTimeoutMs: number | null;
}

export const DEFAULT_MAX_BODY = 100 * 1024 * 1024;

/** Lets the proxy ask whether an app can serve (it failed to deploy, or is starting). */
export type AppHealth = (appName: string) => "ok" | "failed";

const text = (status: number, body: string, requestId?: string) =>
  new Response(body, { status, headers: requestId ? { "content-type": "text/plain; charset=utf-8", "x-request-id": requestId } : { "content-type": "text/plain; charset=utf-8" } });

/** A request waiting for its response head. */
interface Waiting {
  request: Request;
  listener: Listener | undefined;
  stream: OutgoingStream | undefined;
  /** Seen by a sweep already: the next one asks whether the client is still there. */
  checked: boolean;
}

/** 503 while draining; `connection: close` so a keep-alive client reconnects, to another instance. */
export const shuttingDown = (requestId: string) =>
  new Response(`This instance is shutting down; request ${requestId} was not served. Retry on another instance.`, {
    status: 503,
    headers: { "content-type": "text/plain; charset=utf-8", "x-request-id": requestId, connection: "close", "retry-after": "1" },
  });

/** The origin to build URLs on without a listener (`proxy.handle(new Request(...))`): the request's own. */
const ownOrigin = (url: string) => url.slice(0, pathStart(url)) || "http://localhost";

export class Proxy {
  readonly routes = new RouteTable();
  /**
   * Set when the instance starts to drain: from then on every application request gets 503,
   * not the 404 an emptied route table would give (load balancers take 404 as final).
   */
  #draining = false;

  constructor(
    readonly client: Client,
    readonly options: ProxyOptions,
    readonly appHealth: AppHealth,
  ) {}

  /** From now on, application requests get 503 and `/-/healthz` says so: the instance is stopping. */
  drain(): void {
    this.#draining = true;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /**
   * Answers one request. A request refused here (no route, too large) is answered at once;
   * `url` is the request's URL when the caller has read it already. Routing reads the path
   * alone: `Host` may be missing or odd (see url.ts).
   */
  handle(request: Request, listener?: Listener, url: string = request.url): Response | Promise<Response> {
    const { path, query } = pathAndQuery(url);
    // One read of the headers (as an object, which is also what travels) instead of a native get per name.
    const headers = headersToObject(request.headers);
    const sent = headers["x-request-id"];
    let requestId = acceptedRequestId(sent);
    if (!requestId) {
      requestId = newRequestId();
      // An unfit id is replaced in the request too, so user code never sees another id than its context's.
      if (sent !== undefined) headers["x-request-id"] = requestId;
    }
    if (this.#draining) return shuttingDown(requestId);
    const origin = listener?.origin ?? ownOrigin(url);
    const route = this.routes.match(path);
    if (!route) {
      return text(404, `Path '${path}' not found. Ping ${origin}/-/routes for available routes.`, requestId);
    }
    if (this.appHealth(route.appName) === "failed") {
      return text(503, `Application '${route.appName}' is unavailable because it failed to deploy.`, requestId);
    }
    const length = Number(headers["content-length"] ?? 0);
    if (length > this.options.maxBodyBytes) return this.#tooLarge(length, requestId);
    const method = request.method;
    const data: HttpRequestData = { method, url: ingressUrl(url, origin, path, query, route.prefix), headers, body: null };
    if (method !== "GET" && method !== "HEAD" && request.body) return this.#withBody(request, listener, route, data, requestId);
    return this.#forward(request, listener, route, data, requestId);
  }

  async #withBody(request: Request, listener: Listener | undefined, route: Route, data: HttpRequestData, requestId: string): Promise<Response> {
    const body = await request.arrayBuffer();
    if (body.byteLength > this.options.maxBodyBytes) return this.#tooLarge(body.byteLength, requestId);
    if (body.byteLength > 0) data.body = body;
    return this.#forward(request, listener, route, data, requestId);
  }

  /** Sends the request to the route's ingress; resolves with the response once its head is back. */
  #forward(request: Request, listener: Listener | undefined, route: Route, data: HttpRequestData, requestId: string): Promise<Response> {
    const ctx: CallContext = { requestId, route: route.prefix };
    const modelId = data.headers["serve_multiplexed_model_id"];
    if (modelId) ctx.modelId = modelId;
    const timeoutMs = this.options.requestTimeoutMs;
    return new Promise<Response>((resolve) => {
      const waiting: Waiting = { request, listener, stream: undefined, checked: false };
      let answered = false;
      let timedOut = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      // The route is the target: the client finds its router by this object, without a key.
      const stream = this.client.http(route, data, ctx, (head, err) => {
        answered = true;
        this.#waiting.delete(waiting);
        if (head?.streamed) {
          // A stream is never cut for idleness while its producer lives; requestTimeoutMs still
          // covers the whole response: the timer stays, and past it the stream is cancelled (the
          // client sees it break). Cancelling a stream that already ended does nothing.
          if (!waiting.checked) listener?.timeout(request, 0);
          return resolve(
            streamedResponse(head, requestId, waiting.stream!, (e) => {
              const where = { application: route.appName, route: route.prefix, requestId };
              if (timedOut) logger.warn(`request timed out after ${timeoutMs! / 1000}s; its stream was cut`, where);
              else logger.error(`stream failed after it started: ${e.stack ?? e.message}`, where);
            }, listener && (() => listener.timeout(request, listener.idleTimeoutSeconds))),
          );
        }
        clearTimeout(timer);
        // The sweep lifted the idle timeout while this waited: the connection gets it back.
        if (waiting.checked) listener?.timeout(request, listener.idleTimeoutSeconds);
        if (head) resolve(wholeResponse(head, requestId));
        else if (timedOut) resolve(text(408, `Request ${requestId} timed out after ${timeoutMs! / 1000}s.`, requestId));
        else resolve(this.#errorResponse(err!, requestId, route));
      });
      // Refused at once (a full queue): answered already, nothing to watch.
      if (answered) return;
      waiting.stream = stream;
      this.#watch(waiting);
      if (timeoutMs) {
        timer = setTimeout(() => {
          timedOut = true;
          stream.cancel();
        }, timeoutMs);
      }
    });
  }

  /**
   * Requests waiting for their response head, checked for a gone client every 50 ms: far
   * cheaper than an abort listener per request (about 7 % of the proxy's time, profiled).
   * A request is checked from the second sweep that finds it waiting, so the many that answer
   * within 50 ms never create their AbortSignal. Streamed bodies notice a gone client through
   * their stream's cancel.
   *
   * The first sweep also lifts Bun's idle timeout from a request still waiting: Bun counts a
   * connection whose response is being made as idle and drops it silently after
   * `idleTimeout` (10 s), so a slow method's answer would never reach the client. Only
   * `requestTimeoutMs` may bound a live request; the timeout comes back with the answer.
   */
  readonly #waiting = new Set<Waiting>();
  #sweeper: ReturnType<typeof setInterval> | undefined;

  #watch(w: Waiting): void {
    this.#waiting.add(w);
    if (this.#sweeper) return;
    this.#sweeper = setInterval(() => {
      for (const x of this.#waiting) {
        if (!x.checked) {
          x.checked = true;
          x.listener?.timeout(x.request, 0);
        } else if (x.request.signal.aborted) x.stream!.cancel();
      }
      if (this.#waiting.size === 0) {
        clearInterval(this.#sweeper);
        this.#sweeper = undefined;
      }
    }, 50);
    (this.#sweeper as { unref?: () => void }).unref?.();
  }

  #errorResponse(err: Error, requestId: string, route: Route): Response {
    switch (err.name) {
      case "BackPressureError":
        return text(503, (err as BackPressureError).message, requestId);
      case "DeploymentUnavailableError":
        return text(503, err.message, requestId);
      case "ReplicaDiedError":
        return text(500, `The replica serving request ${requestId} died before it answered: ${err.message}`, requestId);
      case "RequestCancelledError":
        return text(499, `Request ${requestId} was cancelled.`, requestId);
    }
    logger.error(err.stack ?? `${err.name}: ${err.message}`, { application: route.appName, route: route.prefix, requestId });
    return text(500, "Internal Server Error", requestId);
  }

  #tooLarge(bytes: number, requestId: string): Response {
    return text(
      413,
      `Request body of ${bytes} bytes is larger than the limit of ${this.options.maxBodyBytes} bytes; send less, or raise http.maxBodyBytes.`,
      requestId,
    );
  }
}
