/**
 * A client that goes away cancels its request, and the code waiting on the request's calls sees
 * a RequestCancelledError. Libraries log it as an error (Elysia's generator routes `console.warn`
 * it, with its stack, every time a client closes one), though nothing went wrong. In a replica,
 * such an error is logged as one line: its name and message, no stack.
 */
const CANCELLED = "RequestCancelledError";

const isCancellation = (v: unknown): v is Error => v instanceof Error && v.name === CANCELLED;

/** Wraps this thread's console.warn and console.error (a replica's; call once, before user code runs). */
export function quietCancellations(): void {
  for (const level of ["warn", "error"] as const) {
    const write = console[level].bind(console);
    console[level] = (...args: unknown[]) => {
      if (!args.some(isCancellation)) return write(...args);
      write(...args.map((a) => (isCancellation(a) ? `${a.name}: ${a.message}` : a)));
    };
  }
}
