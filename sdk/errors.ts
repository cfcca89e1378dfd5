/**
 * Errors that tsserve raises. Each keeps its `name`, so a caller can tell them apart
 * after they cross a thread: `err.name === "BackPressureError"` or `instanceof`.
 */

/** The base of every tsserve error. */
export class ServeError extends Error {
  override name = "ServeError";
}

/** A caller's queue is full (`maxQueuedRequests`); HTTP 503. */
export class BackPressureError extends ServeError {
  override name = "BackPressureError";
  constructor(
    readonly numQueuedRequests: number,
    readonly maxQueuedRequests: number,
  ) {
    super(
      `Request dropped due to backpressure (num_queued_requests=${numQueuedRequests}, max_queued_requests=${maxQueuedRequests}).`,
    );
  }
}

/** The request was cancelled with `response.cancel()`, a client disconnect or a timeout. */
export class RequestCancelledError extends ServeError {
  override name = "RequestCancelledError";
}

/** The deployment cannot take requests: it failed to deploy or was deleted. */
export class DeploymentUnavailableError extends ServeError {
  override name = "DeploymentUnavailableError";
}

/** The replica serving the request died before it answered. */
export class ReplicaDiedError extends ServeError {
  override name = "ReplicaDiedError";
}

const byName: Record<string, new (message: string) => Error> = {
  ServeError,
  RequestCancelledError,
  DeploymentUnavailableError,
  ReplicaDiedError,
  TypeError,
  RangeError,
};

/** An error as it travels between threads: plain data. */
export interface ErrorData {
  name: string;
  message: string;
  stack?: string;
  numQueuedRequests?: number;
  maxQueuedRequests?: number;
}

/** Flattens an error (or anything thrown) for the wire. */
export function errorToData(err: unknown): ErrorData {
  if (err instanceof Error) {
    const data: ErrorData = { name: err.name, message: err.message, stack: err.stack };
    if (err instanceof BackPressureError) {
      data.numQueuedRequests = err.numQueuedRequests;
      data.maxQueuedRequests = err.maxQueuedRequests;
    }
    return data;
  }
  return { name: "Error", message: typeof err === "string" ? err : safeString(err) };
}

/**
 * Rebuilds an error on the caller's side: same name and message, the remote stack kept
 * under the local one, and a tsserve class where the name is one of ours.
 */
export function errorFromData(data: ErrorData): Error {
  let err: Error;
  if (data.name === "BackPressureError") {
    err = new BackPressureError(data.numQueuedRequests ?? 0, data.maxQueuedRequests ?? 0);
  } else if (data.name === "TimeoutError") {
    err = new DOMException(data.message, "TimeoutError") as unknown as Error;
  } else {
    const Ctor = byName[data.name] ?? Error;
    err = new Ctor(data.message);
    if (err.name !== data.name) Object.defineProperty(err, "name", { value: data.name, configurable: true, writable: true });
  }
  if (data.stack) {
    try {
      err.stack = `${data.stack}\n    --- called from ---\n${(err.stack ?? "").split("\n").slice(1).join("\n")}`;
    } catch {
      // DOMException stacks may be read-only; the message and name are what matter.
    }
  }
  return err;
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
