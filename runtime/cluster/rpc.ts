/**
 * Control messages between nodes: `[op, body]` in MessagePack, answered `[true, value]` or
 * `[false, error]` when asked as a request. Handlers run one message at a time per subject in
 * arrival order (NATS keeps one publisher's order on a subject), so a node sees the head's
 * commands in the order they were sent.
 */
import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import { errorFromData, errorToData, type ErrorData } from "../../sdk/errors.ts";
import { decodeWire, encodeWire } from "./codec.ts";
import { subscribe } from "./subscribe.ts";

export type Handlers = Record<string, (body: any, msg: Msg) => unknown>;

/** Serves `[op, body]` messages on `subject`; a request gets the handler's value or error. */
export function serveControl(nc: NatsConnection, subject: string, handlers: Handlers): Subscription {
  return subscribe(nc, subject, (msg) => {
    let op = "?";
    let body: unknown;
    try {
      [op, body] = decodeWire(msg.data) as [string, unknown];
    } catch (e) {
      return answer(nc, msg, Promise.reject(e));
    }
    const handler = handlers[op];
    if (!handler) return answer(nc, msg, Promise.reject(new Error(`unknown control message "${op}" on ${subject}`)));
    answer(nc, msg, (async () => handler(body, msg))());
  });
}

/**
 * Answers a request once what its handler published has reached the NATS server (a flush): the
 * head's next command can then not overtake it. The case in point: the head takes a replica out
 * of a node's routes (setReplicas), then stops it; the batches that node sent the replica before
 * must arrive first, and they travel from another publisher than the head's stop.
 */
function answer(nc: NatsConnection, msg: Msg, result: Promise<unknown>): void {
  if (!msg.reply) return void result.catch(() => {});
  result
    .then(
      (value) => encodeWire([true, value ?? null]),
      (err: unknown) => encodeWire([false, errorToData(err instanceof Error ? err : new Error(String(err)))]),
    )
    .then(async (reply) => {
      await nc.flush().catch(() => {});
      msg.respond(reply);
    });
}

/** What `timeoutMs: 0` means: as long as a replica may take to start (the node's death ends the wait sooner). */
const NO_LIMIT_MS = 600_000;

/** Asks `subject` and waits (up to `timeoutMs`) for the answer; rejects with the handler's error. */
export async function ask<T = unknown>(nc: NatsConnection, subject: string, op: string, body: unknown, timeoutMs: number): Promise<T> {
  let reply: Msg;
  try {
    reply = await nc.request(subject, encodeWire([op, body]), { timeout: timeoutMs || NO_LIMIT_MS });
  } catch (e) {
    const name = (e as Error).name;
    const why = /timeout/i.test(name + (e as Error).message) ? `no answer within ${timeoutMs} ms` : (e as Error).message;
    throw new Error(`${op} on ${subject}: ${why}`, { cause: e });
  }
  const [ok, value] = decodeWire(reply.data) as [boolean, unknown];
  if (ok) return value as T;
  throw errorFromData(value as ErrorData);
}

/** The ask failed because nobody listens on its subject (NATS answered "no responders" at once). */
export function noResponders(err: unknown): boolean {
  return ((err as Error | undefined)?.cause as { isNoResponders?: () => boolean } | undefined)?.isNoResponders?.() === true;
}

/** Sends `[op, body]` with no answer. */
export function tell(nc: NatsConnection, subject: string, op: string, body: unknown): void {
  nc.publish(subject, encodeWire([op, body]));
}
