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

type Timeouts = { timeout(request: Request, seconds: number): void };

/** A request waiting for its response head. */
interface Waiting {
  request: Request;
  stream: OutgoingStream | undefined;
  /** Seen by a sweep already: the next one asks whether the client is still there. */
  checked: boolean;
}

export class Proxy {
  readonly routes = new RouteTable();

  constructor(
    readonly client: Client,
    readonly options: ProxyOptions,
    readonly appHealth: AppHealth,
  ) {}

  /**
   * Answers one request. A request refused here (no route, too large) is answered at once;
   * `url` is the request's URL when the caller has read it already.
   */
  handle(request: Request, server?: Timeouts, url: string = request.url): Response | Promise<Response> {
    const pathStart = url.indexOf("/", url.indexOf("//") + 2);
    const queryStart = url.indexOf("?", pathStart);
    const path = pathStart < 0 ? "/" : url.slice(pathStart, queryStart < 0 ? undefined : queryStart);
    // One read of the headers (as an object, which is also what travels) instead of a native get per name.
    const headers = headersToObject(request.headers);
    const requestId = headers["x-request-id"] || newRequestId();
    const route = this.routes.match(path);
    if (!route) {
      return text(404, `Path '${path}' not found. Ping ${url.slice(0, pathStart)}/-/routes for available routes.`, requestId);
    }
    if (this.appHealth(route.appName) === "failed") {
      return text(503, `Application '${route.appName}' is unavailable because it failed to deploy.`, requestId);
    }
    const length = Number(headers["content-length"] ?? 0);
    if (length > this.options.maxBodyBytes) return this.#tooLarge(length, requestId);
    const method = request.method;
    const data: HttpRequestData = {
      method,
      url: route.prefix === "/" ? url : `${url.slice(0, pathStart)}${path.slice(route.prefix.length) || "/"}${queryStart < 0 ? "" : url.slice(queryStart)}`,
      headers,
      body: null,
    };
    if (method !== "GET" && method !== "HEAD" && request.body) return this.#withBody(request, server, route, data, requestId);
    return this.#forward(request, server, route, data, requestId);
  }

  async #withBody(request: Request, server: Timeouts | undefined, route: Route, data: HttpRequestData, requestId: string): Promise<Response> {
    const body = await request.arrayBuffer();
    if (body.byteLength > this.options.maxBodyBytes) return this.#tooLarge(body.byteLength, requestId);
    if (body.byteLength > 0) data.body = body;
    return this.#forward(request, server, route, data, requestId);
  }

  /** Sends the request to the route's ingress; resolves with the response once its head is back. */
  #forward(request: Request, server: Timeouts | undefined, route: Route, data: HttpRequestData, requestId: string): Promise<Response> {
    const ctx: CallContext = { requestId, route: route.prefix };
    const modelId = data.headers["serve_multiplexed_model_id"];
    if (modelId) ctx.modelId = modelId;
    const timeoutMs = this.options.requestTimeoutMs;
    return new Promise<Response>((resolve) => {
      const waiting: Waiting = { request, stream: undefined, checked: false };
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
          server?.timeout(request, 0);
          return resolve(
            streamedResponse(head, requestId, waiting.stream!, (e) => {
              if (timedOut) console.error(`[tsserve] request ${requestId} timed out after ${timeoutMs! / 1000}s; its stream was cut`);
              else console.error(`[tsserve] request ${requestId}: stream failed after it started: ${e.stack ?? e.message}`);
            }),
          );
        }
        clearTimeout(timer);
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
   */
  readonly #waiting = new Set<Waiting>();
  #sweeper: ReturnType<typeof setInterval> | undefined;

  #watch(w: Waiting): void {
    this.#waiting.add(w);
    if (this.#sweeper) return;
    this.#sweeper = setInterval(() => {
      for (const x of this.#waiting) {
        if (!x.checked) x.checked = true;
        else if (x.request.signal.aborted) x.stream!.cancel();
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
    console.error(`[tsserve] request ${requestId} to ${route.appName}: ${err.stack ?? `${err.name}: ${err.message}`}`);
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
