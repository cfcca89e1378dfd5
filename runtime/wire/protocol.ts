/**
 * The data plane: every message between a caller (the proxy, or a replica holding handles)
 * and a replica, over one MessagePort per caller thread and replica. Messages are flat and
 * travel in batches (an array per postMessage), by structured clone.
 *
 * A call's id is unique within its caller thread. A reference to a call's result (chaining)
 * names the replica that ran it, the caller thread and the call id.
 *
 * Chaining. A caller C passes the response of call U (running at replica R) into call D (sent
 * to replica S). C asks R to keep U's result (`keep` on the `Call`, or a `Keep` after it) and
 * sends D with a `Ref` to it; S pulls the value from R. The messages travel on three ports
 * (C->R, C->S, S->R), so they meet in any order: S's `Pull` may reach R before C's `Call` of U,
 * while U runs, after U's result is kept, or after U's value already left for C because the
 * `Keep` came too late. What holds in every order:
 *
 *  1. Every `Pull` is answered exactly once, or withdrawn by its puller exactly once:
 *     - R answers it (`Ok`/`Err`) when U's result is kept there. A pull for a call R has not
 *       seen, or has already answered to C, waits at R; a pull that finds U running makes R
 *       keep U's result, so the value stays where it was made.
 *     - If U's value or error went to C instead (`Ok`/`Err`, not `Kept`), C sends it to S as a
 *       `Supply`; S takes the first of the two answers and withdraws its pull with `Unpull`.
 *     - A pull also ends when D is cancelled (S sends `Unpull`), when S's caller port to R or
 *       R itself dies (the link fails it), or when C goes away (R answers with an error).
 *  2. C supplies every dependent that is sent, exactly when it receives U's value or error
 *     (not `Kept`): R keeps a result only if it answers C with `Kept`, so exactly one of "R
 *     answers the pull" and "C supplies" happens for a value (for an error both may, and the
 *     first wins).
 *  3. A `Supply` for D travels on C->S after D's `Call`, so S always knows D when it arrives;
 *     one for a call that ended is dropped.
 *  4. R keeps a value from `Kept` until C's `Release` (sent once every dependent of U has
 *     ended and C has read the value or dropped the response), and an error not at all:
 *     nothing waits at R longer than the call or the pull that needs it.
 *
 * The common chain, a call D whose one pending argument is U's response, takes a shorter road
 * (the value never crosses C, and C sends one message where awaiting sends two): C sends D to
 * R as a `Then` beside U, naming the replica S its router picked. When U ends, R sends D on to
 * S itself with the value in place, as C's call (`for`: C's name, under C's id), and S answers
 * C directly on C->S: R relays nothing back.
 *
 *  5. A `Then` travels on C->R after U's `Call`. R either sends D on to S, or answers it itself
 *     (never both): with U's error, with the error of R's link to S, with a cancellation, or
 *     with `Late` when U had already answered C (C then sends D itself, by value or with a
 *     `Ref`). So C waits for D's answer on both ports, C->R and C->S, and the first answer (or
 *     the death of either replica) ends D and stops the wait on the other.
 *  6. At S, a call sent on `for` C is C's call in every respect: filed under C's name and id,
 *     answered on C->S, and every later message from C about it (`Keep`, `Release`, `Pull`,
 *     a `Then` on it) finds it as if C had sent it; one that arrives before it is handled as
 *     for a call not yet arrived (rules 1-3). If S has not yet got its end of C->S (the
 *     controller hands the two ends out separately; between nodes it opens with the first batch
 *     C sends on it, so C sends an `Open` on a port it has never used before its first `Then`
 *     naming S), the call waits for it, or is dropped when C is gone.
 *  7. C cancels D at R (`Cancel` with `to`: S). R drops a waiting `Then` and answers it; if R
 *     already sent D on, it passes the cancel to S on R->S, behind D's call, so S has D or has
 *     answered it. R keeps nothing for D once it is sent on. If R dies first, C fails D and
 *     cancels it at S too (R may have sent it on; a cancel that overtakes D's call there is
 *     lost and D runs to its end, unanswered).
 *
 * tests/wire/chaining_simulation.test.ts delivers these messages in seeded random orders.
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
  /**
   * any thread -> replica: send me the kept result `ref`; answered by `Ok`/`Err` with this `id`
   * once the result is kept here (it waits for a call that has not arrived; see above).
   */
  Pull = 5,
  /** caller -> replica: the consumer of stream `id` can take `n` more items. */
  Credit = 6,
  /**
   * caller -> replica: the value for `args[at]` of call `id`. Sent when a `Keep` came too
   * late (the value had already left the upstream replica), so the caller passes it on.
   */
  Supply = 7,
  /** puller -> replica: forget pull `id` of `ref` (the value came another way, or is not needed). */
  Unpull = 8,
  /** caller -> replica: when call `up` ends with a value, send call `id` on to replica `to` with it (rule 5). */
  Then = 9,

  /** replica -> caller: the call's value. */
  Ok = 10,
  /** replica -> caller: the call failed. */
  Err = 11,
  /**
   * replica -> caller: the call succeeded; its value is kept at the replica for pulls. A value
   * that costs nothing to copy (a number, a short string...) comes along as `v`, so the caller
   * never pulls it.
   */
  Kept = 12,
  /** replica -> caller: the next items of stream `id`. */
  Items = 13,
  /** replica -> caller: stream `id` ended. */
  End = 14,
  /** replica -> caller: the `Then` of call `id` came after its upstream had answered: send it yourself. */
  Late = 15,
  /**
   * caller -> replica: nothing to do. The first message on a port that a call sent on for this
   * caller will be answered on (rule 6): between nodes, the replica's end of a port opens only
   * with the first batch sent on it (runtime/cluster/bridge.ts).
   */
  Open = 16,

  // WebSockets (socket.ts): a two-way stream of frames with credits each way.
  /** caller -> replica: open socket `id` for an upgrade request; answered by `SocketAccepted` or `SocketRefused` (or `Err`). */
  SocketOpen = 20,
  /** replica -> caller: the ingress took the socket; the caller completes the upgrade. */
  SocketAccepted = 21,
  /** replica -> caller: the ingress answered the upgrade request with plain HTTP (no such route, say). */
  SocketRefused = 22,
  /** either way: frames of socket `id`, in order (strings are text frames, ArrayBuffers binary). */
  SocketFrames = 23,
  /** either way: the other side consumed frames worth `n` credit units (see socket.ts). */
  SocketCredit = 24,
  /** either way: socket `id` is closed, with a WebSocket close code; nothing more is sent for it. */
  SocketClose = 25,
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
  /** `Then`s that left in the same batch as this call ride on it, so they are here before it runs. */
  thens?: ThenMsg[];
  /**
   * Sent on by an upstream replica (rule 6): the caller thread whose call this is; its id is
   * that thread's, and the answers go to that thread directly.
   */
  for?: string;
}

export interface IdMsg {
  k: K.Cancel | K.Keep | K.Release | K.Kept | K.End | K.Late | K.Open;
  id: number;
  /** A `Cancel` of a call sent as a `Then`: the replica it was to go on to (rule 7). */
  to?: string;
  /** A `Cancel` passed on by the relaying replica: the caller thread whose call it is (rule 7). */
  for?: string;
}

export interface PullMsg {
  k: K.Pull | K.Unpull;
  id: number;
  ref: Ref;
}

export interface ThenMsg {
  k: K.Then;
  /** The downstream call's id (its answers come back under it). */
  id: number;
  /** The upstream call whose value fills `call.args[at]`. */
  up: number;
  /** The replica the caller's router picked for the downstream call. */
  to: string;
  at: number;
  call: CallMsg;
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
  k: K.Ok | K.Kept;
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
export type ToReplica = CallMsg | IdMsg | PullMsg | CreditMsg | SupplyMsg | ThenMsg | SocketToReplica;
/** What a replica sends back. */
export type ToCaller = OkMsg | ErrMsg | ItemsMsg | IdMsg | SocketToCaller;

// ---- WebSockets: the messages of a relayed socket (flow control in socket.ts) ----

export interface SocketOpenMsg {
  k: K.SocketOpen;
  id: number;
  /** The upgrade request (no body), its URL relative to the route prefix. */
  req: HttpRequestData;
  ctx: CallContext;
  /** The client's address, for the socket's `remoteAddress`. */
  ip?: string;
}

export interface SocketAcceptedMsg {
  k: K.SocketAccepted;
  id: number;
  /** Headers for the 101 answer (an Elysia `upgrade` hook may set some). */
  headers?: Record<string, string>;
}

export interface SocketRefusedMsg {
  k: K.SocketRefused;
  id: number;
  res: HttpResponseData;
}

/** A text frame is a string; a binary frame an ArrayBuffer. */
export type Frame = string | ArrayBuffer;

export interface SocketFramesMsg {
  k: K.SocketFrames;
  id: number;
  v: Frame[];
}

export interface SocketCreditMsg {
  k: K.SocketCredit;
  id: number;
  n: number;
}

export interface SocketCloseMsg {
  k: K.SocketClose;
  id: number;
  code: number;
  reason: string;
}

export type SocketToReplica = SocketOpenMsg | SocketFramesMsg | SocketCreditMsg | SocketCloseMsg;
export type SocketToCaller = SocketAcceptedMsg | SocketRefusedMsg | SocketFramesMsg | SocketCreditMsg | SocketCloseMsg;

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
