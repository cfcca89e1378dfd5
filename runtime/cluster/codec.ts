/**
 * The data plane's values between machines: MessagePack whose round trip gives what
 * `structuredClone` gives between threads, for everything users pass to and return from
 * deployments (see the test for the full list).
 *
 * Plain values are plain MessagePack (@msgpack/msgpack reads them, and its output reads here).
 * What MessagePack has no type for is an extension (ext types below): `undefined`, bigint,
 * Date, RegExp, ArrayBuffer, DataView and every typed array kind are self-contained leaves. A
 * container with a meaning (Map, Set, Error, a boxed primitive, an object with an own
 * "__proto__" key) is an array whose first item is a marker extension, so its contents stay
 * ordinary MessagePack and neither side recurses: the reader rebuilds it when the array ends.
 * The writer and the reader are this folder's own (msgpack_writer.ts and msgpack_reader.ts
 * say why not the library's).
 *
 * Invariants kept by encodeWire's walk:
 *  - it never recurses, so depth costs heap, not stack, up to MAX_DEPTH (as deep as JSON goes);
 *  - a cycle is refused (structured clone would copy it; MessagePack is a tree): an object met
 *    again inside itself. Only containers deeper than CYCLE_DEPTH are tracked, since a cycle
 *    always reaches that depth, so the common shallow message pays nothing for it;
 *  - a shared (non-cyclic) object is written once per place it appears: the copy is a tree.
 */
import { MAX_DEPTH } from "../replica/msgpack.ts";
import { MsgpackWriter } from "./msgpack_writer.ts";
import { Marker, MsgpackReader, WireDecodeError } from "./msgpack_reader.ts";

// ---- extension types (0-127; each self-describing, so add new ones at the end) ----
const UNDEFINED = 0;
const BIGINT = 1;
const DATE = 2;
const REGEXP = 3;
const ARRAY_BUFFER = 4;
const DATA_VIEW = 5;
/** TYPED + index in TYPED_ARRAYS. */
const TYPED = 6;
// Markers: the first item of an array that stands for the container.
const MAP = 30;
const SET = 31;
const ERROR = 32;
const BOXED = 33;
/** A plain object with an own "__proto__" key (JSON.parse makes them; the Decoder refuses the key). */
const PROTO_OBJECT = 34;

type TypedArrayKind = new (buffer: ArrayBuffer) => ArrayBufferView;
const Float16 = (globalThis as { Float16Array?: TypedArrayKind }).Float16Array;
const TYPED_ARRAYS: TypedArrayKind[] = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
  ...(Float16 ? [Float16] : []),
];
const typedType = new Map<unknown, number>(TYPED_ARRAYS.map((k, i) => [k, TYPED + i]));

/** The error names structured clone keeps; any other name arrives as "Error". */
const ERROR_KINDS: Record<string, ErrorConstructor> = { Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError };

/** Containers deeper than this are checked for cycles. */
const CYCLE_DEPTH = 64;

const ZERO = Uint8Array.of(0);
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** What a frame of the walk is, for naming a path in an error. */
const enum Kind {
  Array,
  Object,
  Map,
  Set,
  Error,
  Boxed,
}

interface Frame {
  kind: Kind;
  /** The container as the user gave it (for cycles and paths). */
  of: object | undefined;
  /** The values to write, in order: the array itself, or a list made for a Map, a Set... */
  items: unknown[] | undefined;
  /** A plain object's keys (its values are read as they are written). */
  keys: string[] | undefined;
  i: number;
}

const writer = new MsgpackWriter();
const frames: Frame[] = [];
let encoding = false;

/** `value` as MessagePack bytes for another machine; throws a DataCloneError naming what cannot cross. */
export function encodeWire(value: unknown): Uint8Array {
  // A getter run by the walk could encode too: it gets a writer of its own.
  if (encoding) return new Walk(new MsgpackWriter(1024), []).run(value);
  encoding = true;
  try {
    return new Walk(writer, frames).run(value);
  } finally {
    encoding = false;
  }
}

class Walk {
  #depth = 0;
  /** Containers on the current path deeper than CYCLE_DEPTH. */
  #deep: Set<object> | undefined;

  constructor(
    readonly w: MsgpackWriter,
    readonly frames: Frame[],
  ) {}

  run(root: unknown): Uint8Array {
    const { w, frames } = this;
    w.pos = 0;
    let v = root;
    try {
      for (;;) {
        this.#write(v);
        // The next value: the first one left in the innermost unfinished container.
        for (;;) {
          if (this.#depth === 0) return w.take();
          const f = frames[this.#depth - 1]!;
          if (f.keys) {
            if (f.i < f.keys.length) {
              const k = f.keys[f.i++]!;
              w.string(k);
              v = (f.of as Record<string, unknown>)[k];
              break;
            }
          } else if (f.i < f.items!.length) {
            v = f.items![f.i++];
            break;
          }
          this.#pop(f);
        }
      }
    } finally {
      // Let go of the user's objects held by the pooled frames.
      while (this.#depth > 0) this.#pop(frames[this.#depth - 1]!);
    }
  }

  #write(v: unknown): void {
    const w = this.w;
    switch (typeof v) {
      case "number":
        return w.number(v);
      case "string":
        return w.string(v);
      case "boolean":
        return w.bool(v);
      case "undefined":
        return w.ext(UNDEFINED, ZERO);
      case "bigint":
        return w.ext(BIGINT, bigintBytes(v));
      case "object":
        if (v === null) return w.nil();
        if (Array.isArray(v)) {
          w.arrayHeader(v.length);
          return this.#push(Kind.Array, v, v, undefined);
        }
        const proto = Object.getPrototypeOf(v);
        if (proto === Object.prototype || proto === null) return this.#object(v);
        return this.#special(v);
      default:
        // A function or a symbol.
        throw this.#refuse(typeof v === "function" ? `a function${v.name ? ` (${v.name})` : ""}` : `a symbol (${String(v)})`);
    }
  }

  #object(v: object): void {
    const keys = Object.keys(v);
    if (Object.hasOwn(v, "__proto__")) return this.#marked(PROTO_OBJECT, Kind.Object, v, keys.flatMap((k) => [k, (v as Record<string, unknown>)[k]]));
    this.w.mapHeader(keys.length);
    this.#push(Kind.Object, v, undefined, keys);
  }

  #special(v: object): void {
    const w = this.w;
    if (v instanceof Date) {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setFloat64(0, v.getTime()); // NaN for an invalid date, as structured clone keeps it
      return w.ext(DATE, b);
    }
    if (v instanceof RegExp) return w.ext(REGEXP, utf8.encode(`${v.flags}/${v.source}`));
    if (v instanceof Map) {
      const items: unknown[] = [];
      for (const [k, x] of v) items.push(k, x);
      return this.#marked(MAP, Kind.Map, v, items);
    }
    if (v instanceof Set) return this.#marked(SET, Kind.Set, v, [...v]);
    if (ArrayBuffer.isView(v)) {
      // Only the view's own bytes travel: it arrives on a buffer of its own.
      const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
      if (v instanceof DataView) return w.ext(DATA_VIEW, bytes);
      let type = typedType.get(v.constructor);
      if (type === undefined) type = TYPED + TYPED_ARRAYS.findIndex((k) => v instanceof k); // a subclass (Node's Buffer)
      return w.ext(type, bytes);
    }
    if (v instanceof ArrayBuffer) return w.ext(ARRAY_BUFFER, new Uint8Array(v));
    if (typeof DOMException === "function" && v instanceof DOMException) {
      return this.#marked(ERROR, Kind.Error, v, [{ dom: true, name: v.name, message: v.message }]);
    }
    if (v instanceof Error) {
      // What structured clone keeps of an error: a standard name, own message, stack, cause.
      const info: Record<string, unknown> = { name: Object.hasOwn(ERROR_KINDS, v.name) ? v.name : "Error" };
      if (Object.hasOwn(v, "message")) info.message = String(v.message);
      if (typeof v.stack === "string") info.stack = v.stack;
      if (Object.hasOwn(v, "cause")) info.cause = v.cause;
      return this.#marked(ERROR, Kind.Error, v, [info]);
    }
    if (v instanceof Number || v instanceof String || v instanceof Boolean || v instanceof BigInt) {
      return this.#marked(BOXED, Kind.Boxed, v, [v.valueOf()]);
    }
    const tag = Object.prototype.toString.call(v).slice(8, -1);
    if (tag === "Object") return this.#object(v); // a class instance: its own fields, as structured clone copies it
    if (tag === "SharedArrayBuffer") throw this.#refuse("a SharedArrayBuffer", "memory cannot be shared between machines; send a copy (new Uint8Array(shared).slice())");
    if (tag === "Blob" || tag === "File") throw this.#refuse(`a ${tag}`, "send its bytes instead (await blob.bytes())");
    throw this.#refuse(`a ${tag}`);
  }

  /** Writes a marked container: an array of the marker and `items`. */
  #marked(marker: number, kind: Kind, of: object, items: unknown[]): void {
    this.w.arrayHeader(items.length + 1);
    this.w.ext(marker, ZERO);
    this.#push(kind, of, items, undefined);
  }

  #push(kind: Kind, of: object, items: unknown[] | undefined, keys: string[] | undefined): void {
    const depth = this.#depth;
    if (depth >= MAX_DEPTH) throw this.#refuse(`nested more than ${MAX_DEPTH} levels deep`, "flatten it, or send it as a JSON string");
    if (depth >= CYCLE_DEPTH) {
      this.#deep ??= new Set();
      if (this.#deep.has(of)) throw this.#refuse("a cycle (it contains itself)", "send a value without cycles (structured clone copies them; MessagePack is a tree)");
      this.#deep.add(of);
    }
    let f = this.frames[depth];
    if (!f) f = this.frames[depth] = { kind, of, items, keys, i: 0 };
    else {
      f.kind = kind;
      f.of = of;
      f.items = items;
      f.keys = keys;
      f.i = 0;
    }
    this.#depth = depth + 1;
  }

  #pop(f: Frame): void {
    this.#depth--;
    if (this.#depth >= CYCLE_DEPTH) this.#deep!.delete(f.of!);
    f.of = f.items = f.keys = undefined;
  }

  /** The error for the value being written: where it is, what it is, what to do. */
  #refuse(what: string, fix?: string): DOMException {
    const at = this.#path();
    const hint = fix ?? "values that cross machines are what structured clone copies: primitives, plain objects and arrays, Date, RegExp, Map, Set, ArrayBuffer and typed arrays, Error";
    return new DOMException(`${at} is ${what}, which cannot be sent to another machine; ${hint}`, "DataCloneError");
  }

  /** Where the walk is, as code would name it: `value[0].args[1].get("a")`. */
  #path(): string {
    let p = "value";
    const show = (k: unknown) => (typeof k === "string" ? JSON.stringify(k) : typeof k === "bigint" ? `${k}n` : typeof k === "object" && k !== null ? "{...}" : String(k));
    for (let d = 0; d < Math.min(this.#depth, 200); d++) {
      const f = this.frames[d]!;
      const i = f.i - 1;
      if (f.kind === Kind.Array) p += `[${i}]`;
      else if (f.kind === Kind.Object) {
        const k = f.keys ? f.keys[i]! : (f.items![i & ~1] as string);
        p += /^[A-Za-z_$][\w$]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`;
      } else if (f.kind === Kind.Map) p += i % 2 ? `.get(${show(f.items![i - 1])})` : `.keys()[${i / 2}]`;
      else if (f.kind === Kind.Set) p += `.values()[${i}]`;
      else if (f.kind === Kind.Boxed) p += ".valueOf()";
      // Kind.Error: its fields (.cause...) follow as an object's keys.
    }
    return this.#depth > 200 ? `${p}...` : p;
  }
}

/** A bigint as a sign byte and its magnitude, big-endian. */
function bigintBytes(v: bigint): Uint8Array {
  let hex = (v < 0n ? -v : v).toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  const out = new Uint8Array(1 + hex.length / 2);
  out[0] = v < 0n ? 1 : 0;
  for (let i = 1; i < out.length; i++) out[i] = parseInt(hex.substr(2 * i - 2, 2), 16);
  return out;
}

// ---- decoding ----

/** The payload as bytes of its own (the reader's are a view of the whole message). */
const own = (data: Uint8Array): ArrayBuffer => new Uint8Array(data).buffer;

function rebuildError(info: Record<string, unknown>): Error {
  if (info.dom) return new DOMException(info.message as string, info.name as string);
  const err = new (ERROR_KINDS[info.name as string] ?? Error)();
  const field = (key: string, value: unknown) => Object.defineProperty(err, key, { value, writable: true, configurable: true, enumerable: false });
  // The stack is the sender's, or none: not one made here by `new`.
  if ("stack" in info) field("stack", info.stack);
  else delete err.stack;
  if ("message" in info) field("message", info.message);
  if ("cause" in info) field("cause", info.cause);
  return err;
}

/** What each marker's array becomes (items[0] is the marker); its contents are already decoded. */
const markers: Record<number, Marker> = {
  [MAP]: new Marker((items) => {
    const map = new Map();
    for (let i = 1; i < items.length; i += 2) map.set(items[i], items[i + 1]);
    return map;
  }),
  [SET]: new Marker((items) => new Set(items.slice(1))),
  [ERROR]: new Marker((items) => rebuildError(items[1] as Record<string, unknown>)),
  [BOXED]: new Marker((items) => Object(items[1])),
  [PROTO_OBJECT]: new Marker((items) => {
    const obj = {};
    // defineProperty makes "__proto__" an own key, as JSON.parse and structured clone do.
    for (let i = 1; i < items.length; i += 2) Object.defineProperty(obj, items[i] as string, { value: items[i + 1], enumerable: true, writable: true, configurable: true });
    return obj;
  }),
};

function decodeExt(type: number, d: Uint8Array): unknown {
  switch (type) {
    case UNDEFINED:
      return undefined;
    case BIGINT: {
      let hex = "0x0";
      for (let i = 1; i < d.length; i++) hex += d[i]!.toString(16).padStart(2, "0");
      return d[0] ? -BigInt(hex) : BigInt(hex);
    }
    case DATE:
      return new Date(new DataView(d.buffer, d.byteOffset, d.byteLength).getFloat64(0));
    case REGEXP: {
      const text = fromUtf8.decode(d);
      const slash = text.indexOf("/"); // flags are letters, so the first "/" ends them
      return new RegExp(text.slice(slash + 1), text.slice(0, slash));
    }
    case ARRAY_BUFFER:
      return own(d);
    case DATA_VIEW:
      return new DataView(own(d));
  }
  const Typed = TYPED_ARRAYS[type - TYPED];
  if (Typed) return new Typed(own(d));
  const marker = markers[type];
  if (marker) return marker;
  throw new WireDecodeError(`unknown extension type ${type} (a newer tsserve on the other machine?)`);
}

const reader = new MsgpackReader(decodeExt);

/** The value `encodeWire` wrote. */
export function decodeWire(bytes: Uint8Array): unknown {
  return reader.read(bytes);
}
