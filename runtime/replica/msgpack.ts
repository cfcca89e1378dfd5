/**
 * MessagePack for HTTP answers, as deep as JSON goes. @msgpack/msgpack's encoder recurses: it
 * refuses values nested over `maxDepth` (100 by default) and would overflow a Worker's stack
 * at about 7,600 levels, while `JSON.stringify` takes 40,000 (Bun 1.4). So values up to
 * FAST_DEPTH levels go through the library as they are, and deeper ones are walked here
 * without recursion, with only the leaves (strings, numbers, bytes, Dates: anything that is not
 * an array or a map) given to the library. MessagePack is a concatenation of headers and
 * values, so the bytes are the same as the library's own.
 */
import { Encoder } from "@msgpack/msgpack";

/** Safely within a Worker's stack for the library's recursion. */
const FAST_DEPTH = 1000;
/** As deep as `JSON.stringify` goes; a cycle stops here too (JSON would throw on it as well). */
export const MAX_DEPTH = 40_000;

const fast = new Encoder({ maxDepth: FAST_DEPTH });
const leaves = new Encoder({ maxDepth: FAST_DEPTH });

/** `value` as MessagePack bytes. */
export function encodeMsgpack(value: unknown): Uint8Array {
  try {
    return fast.encode(value);
  } catch (err) {
    if (!(err as Error).message?.startsWith("Too deep objects")) throw err;
  }
  return encodeDeep(value);
}

/** What the library writes as an array or a map (its other objects are extensions or bytes). */
const isContainer = (v: unknown): v is object => typeof v === "object" && v !== null && !ArrayBuffer.isView(v) && !(v instanceof Date);

interface Frame {
  /** The values still to write, in order (a map's keys and values alternate). */
  items: unknown[];
  next: number;
}

function encodeDeep(value: unknown): Uint8Array {
  const parts: Uint8Array[] = [];
  const stack: Frame[] = [];
  let v = value;
  for (;;) {
    if (isContainer(v)) {
      if (stack.length >= MAX_DEPTH) throw new RangeError(`cannot encode as MessagePack: the value is nested more than ${MAX_DEPTH} levels deep (or holds a cycle)`);
      let items: unknown[];
      if (Array.isArray(v)) {
        parts.push(header(v.length, 0x90, 0xdc, 0xdd));
        items = v;
      } else {
        const keys = Object.keys(v);
        parts.push(header(keys.length, 0x80, 0xde, 0xdf));
        items = [];
        for (const k of keys) items.push(k, (v as Record<string, unknown>)[k]);
      }
      stack.push({ items, next: 0 });
    } else {
      parts.push(leaves.encode(v));
    }
    // The next value to write: the first one left in the innermost unfinished container.
    let top = stack.at(-1);
    while (top && top.next === top.items.length) {
      stack.pop();
      top = stack.at(-1);
    }
    if (!top) break;
    v = top.items[top.next++];
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** An array (0x90/0xdc/0xdd) or map (0x80/0xde/0xdf) header for `n` entries. */
function header(n: number, fix: number, sixteen: number, thirtyTwo: number): Uint8Array {
  if (n < 16) return Uint8Array.of(fix | n);
  if (n < 0x10000) return Uint8Array.of(sixteen, n >> 8, n & 0xff);
  return Uint8Array.of(thirtyTwo, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}
