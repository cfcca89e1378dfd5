/** The request and replica contexts user code reads with `serve.getRequestContext()` etc. */
import { AsyncLocalStorage } from "node:async_hooks";
import { ServeError } from "./errors.ts";

/** What a replica knows about itself. */
export interface ReplicaContext {
  appName: string;
  deploymentName: string;
  replicaId: string;
}

/** What a request carries while it runs, including through the calls it makes downstream. */
export interface RequestContext {
  requestId: string;
  appName: string;
  deploymentName: string;
  replicaId: string;
  /** The route prefix the request came in by, `""` for handle calls. */
  route: string;
  multiplexedModelId: string;
  /** Fires when the request is cancelled (by the caller, a timeout or a client disconnect). */
  signal: AbortSignal;
}

/** The request running in the current async context, inside a replica. */
export const requestScope = new AsyncLocalStorage<RequestContext>();

let replica: ReplicaContext | undefined;

/** Set once by the replica host, before the user's module is imported. */
export function setReplicaContext(ctx: ReplicaContext): void {
  replica = ctx;
}

const idle = new AbortController().signal;

/**
 * The current request's context. Outside a request (in a constructor, or outside any
 * replica) every field is empty and the signal never fires, as in Ray Serve.
 */
export function getRequestContext(): RequestContext {
  return (
    requestScope.getStore() ?? {
      requestId: "",
      appName: replica?.appName ?? "",
      deploymentName: replica?.deploymentName ?? "",
      replicaId: replica?.replicaId ?? "",
      route: "",
      multiplexedModelId: "",
      signal: idle,
    }
  );
}

/** This replica's context; throws outside a replica. */
export function getReplicaContext(): ReplicaContext {
  if (!replica) throw new ServeError("serve.getReplicaContext() is only available inside a replica (a deployment's code)");
  return replica;
}

/** The multiplexed model id of the current request, `""` outside one. */
export function getMultiplexedModelId(): string {
  return requestScope.getStore()?.multiplexedModelId ?? "";
}
