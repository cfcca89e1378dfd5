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
  /** The calls made from this request: one held as is (the common case), more in a Set. */
  children?: Cancellable | Set<Cancellable>;
}

/** The scope of the request running in this async context, if any. */
export function scopeOf(ctx: object | undefined): CancelScope | undefined {
  return ctx ? (ctx as { [SCOPE]?: CancelScope })[SCOPE] : undefined;
}

/** Ties `call` to `scope`; false if the scope is cancelled already (the call must not run). */
export function enter(scope: CancelScope | undefined, call: Cancellable): boolean {
  if (!scope) return true;
  if (scope.cancelled) return false;
  const c = scope.children;
  if (c === undefined) scope.children = call;
  else if (c instanceof Set) c.add(call);
  else scope.children = new Set([c, call]);
  return true;
}

/** Unties a finished call from its scope. */
export function leave(scope: CancelScope | undefined, call: Cancellable): void {
  const c = scope?.children;
  if (c === call) scope!.children = undefined;
  else if (c instanceof Set) c.delete(call);
}

/** Cancels every call made from `scope`. */
export function cancelChildren(scope: CancelScope): void {
  const c = scope.children;
  if (c instanceof Set) for (const child of [...c]) child.cancel();
  else c?.cancel();
}
