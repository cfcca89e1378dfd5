/**
 * Cancellation that flows downstream: the request a replica is running holds the calls it
 * made, and cancelling the request cancels them. A set per request instead of an abort
 * listener per call (the listener and the AbortController it needs cost about a tenth of a
 * two-hop request, profiled).
 */

/** Where a request context keeps its scope (a key user code never sees in the typed context). */
export const SCOPE = Symbol("tsserve.scope");

export interface Cancellable {
  cancel(): void;
}

export interface CancelScope {
  readonly cancelled: boolean;
  children?: Set<Cancellable>;
}

/** The scope of the request running in this async context, if any. */
export function scopeOf(ctx: object | undefined): CancelScope | undefined {
  return ctx ? (ctx as { [SCOPE]?: CancelScope })[SCOPE] : undefined;
}

/** Ties `call` to `scope`: returns false if the scope is cancelled already, and a function to untie it. */
export function enter(scope: CancelScope | undefined, call: Cancellable): (() => void) | false | undefined {
  if (!scope) return undefined;
  if (scope.cancelled) return false;
  (scope.children ??= new Set()).add(call);
  return () => scope.children!.delete(call);
}
