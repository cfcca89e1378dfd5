/**
 * The data plane: every message between a caller (the proxy, or a replica holding handles)
 * and a replica, over one MessagePort per caller thread and replica. Messages are flat and
 * travel in batches (an array per postMessage), by structured clone.
 *
 * A call's id is unique within its caller thread. A reference to a call's result (chaining)
 * names the replica that ran it, the caller thread and the call id.
 */
import type { ErrorData } from "../../sdk/errors.ts";
import type { HeaderData } from "./headers.ts";

export const enum K {
  /** caller -> replica: run a method. */
  Call = 1,
  /** caller -> replica: cancel a call (queued or running, unary or stream). */
  Cancel = 2,
  /** caller -> replica: keep the result of call `id` at the replica; send only `Kept`. */
  Keep = 3,
  /** caller -> replica: the kept result of call `id` is no longer needed. */
  Release = 4,
  /** any thread -> replica: send me the kept result `ref`; answered by `Ok`/`Err` with this `id`. */
  Pull = 5,
  /** caller -> replica: the consumer of stream `id` can take `n` more items. */
  Credit = 6,
  /**
   * caller -> replica: the value for `args[at]` of call `id`. Sent when a `Keep` came too
   * late (the value had already left the upstream replica), so the caller passes it on.
   */
  Supply = 7,

  /** replica -> caller: the call's value. */
  Ok = 10,
  /** replica -> caller: the call failed. */
  Err = 11,
  /** replica -> caller: the call succeeded; its value is kept at the replica for pulls. */
  Kept = 12,
  /** replica -> caller: the next items of stream `id`. */
  Items = 13,
  /** replica -> caller: stream `id` ended. */
  End = 14,
}

/** A reference to a kept result: which replica ran it, for which caller thread, which call. */
export interface Ref {
  replica: string;
  caller: string;
  id: number;
}

/** The request context that travels with a call. */
export interface CallContext {
  /** Absent for a call made outside any request: the replica names it if asked. */
  requestId?: string;
  /** Absent when the call has no multiplexed model id. */
  modelId?: string;
  /** The route prefix of an HTTP request; absent for handle calls. */
  route?: string;
}

export interface CallMsg {
  k: K.Call;
  id: number;
  method: string;
  args: unknown[];
  ctx: CallContext;
  /** Positions in `args` holding a `Ref` to resolve before the method runs. */
  refs?: number[];
  /** A streaming call: items flow as `Items` messages, with credits. */
  stream?: boolean;
  /** An HTTP request: `args[0]` is an `HttpRequestData`; the replica picks `fetch` or `call`. */
  http?: boolean;
  /**
   * Keep the result at the replica (as a `Keep` would). Set when the response is chained in
   * the tick it was sent, so even a synchronous method's value stays where it was made.
   */
  keep?: boolean;
}

export interface IdMsg {
  k: K.Cancel | K.Keep | K.Release | K.Kept | K.End;
  id: number;
}

export interface PullMsg {
  k: K.Pull;
  id: number;
  ref: Ref;
}

export interface CreditMsg {
  k: K.Credit;
  id: number;
  n: number;
}

export interface SupplyMsg {
  k: K.Supply;
  id: number;
  at: number;
  v?: unknown;
  e?: ErrorData;
}

export interface OkMsg {
  k: K.Ok;
  id: number;
  v: unknown;
}

export interface ErrMsg {
  k: K.Err;
  id: number;
  e: ErrorData;
}

export interface ItemsMsg {
  k: K.Items;
  id: number;
  v: unknown[];
}

/** What a caller sends to a replica. */
export type ToReplica = CallMsg | IdMsg | PullMsg | CreditMsg | SupplyMsg;
/** What a replica sends back. */
export type ToCaller = OkMsg | ErrMsg | ItemsMsg | IdMsg;

/** An HTTP request as the proxy sends it to the ingress replica. */
export interface HttpRequestData {
  method: string;
  /** Absolute URL whose path is relative to the route prefix. */
  url: string;
  headers: Record<string, string>;
  body: ArrayBuffer | null;
}

/** A `Response` returned by user code, as it travels back to the proxy. */
export interface HttpResponseData {
  status: number;
  statusText?: string;
  headers: HeaderData;
  body: string | ArrayBuffer | null;
  /** The body streams: chunks arrive as the stream's `Items`. */
  streamed?: boolean;
}
