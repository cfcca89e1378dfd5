/**
 * `serve.transfer(value)`: send a value's buffers by transfer instead of by copy. Values
 * are copied by default (structured clone keeps typed arrays typed), because a transfer
 * empties the sender's buffer, which would surprise code that keeps it.
 */
/** What a postMessage can move rather than copy (Bun's `Transferable`; Deno's own type is wider). */
export type Transferable = ArrayBuffer | MessagePort;

const marked = new WeakMap<object, Transferable[]>();

function collect(value: unknown, out: Transferable[], depth: number): void {
  if (value instanceof ArrayBuffer) out.push(value);
  else if (ArrayBuffer.isView(value)) {
    if (value.buffer instanceof ArrayBuffer) out.push(value.buffer);
  } else if (depth > 0 && value !== null && typeof value === "object") {
    for (const v of Array.isArray(value) ? value : Object.values(value)) collect(v, out, depth - 1);
  }
}

/**
 * Marks `value` so that its ArrayBuffers (or `transferables`) move to the receiving thread
 * instead of being copied. The sender must not use them afterwards.
 *
 * @example
 * return serve.transfer(new Float32Array(1_000_000));
 */
export function transfer<T extends object>(value: T, transferables?: Transferable[]): T {
  const list: Transferable[] = transferables ?? [];
  if (!transferables) collect(value, list, 2);
  marked.set(value, [...new Set(list)]);
  return value;
}

/** The transfer list marked on `value`, if any (and forgets it: a buffer moves once). */
export function takeTransfer(value: unknown): Transferable[] | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const list = marked.get(value);
  if (list) marked.delete(value);
  return list;
}
