// The cluster codec: what crosses machines as MessagePack comes back as structuredClone would
// copy it between threads, and what cannot cross fails with an error naming where it is.
import { describe, expect, test } from "bun:test";
import { decode, encode } from "@msgpack/msgpack";
import { decodeWire, encodeWire } from "../../runtime/cluster/codec.ts";
import { K } from "../../runtime/wire/protocol.ts";
import { rng } from "../random.ts";

const roundTrip = <T>(v: T): T => decodeWire(encodeWire(v)) as T;

/** The round trip equals structuredClone's copy (toEqual looks into Maps, Sets, typed arrays, Dates). */
function expectLikeStructuredClone(v: unknown): void {
  expect(roundTrip(v)).toEqual(structuredClone(v));
}

describe("cluster codec round trips", () => {
  test("primitives: undefined, null, booleans, numbers with NaN, -0 and Infinity, strings", () => {
    expect(roundTrip(undefined)).toBeUndefined();
    expect(roundTrip(null)).toBeNull();
    expect(roundTrip(true)).toBe(true);
    expect(roundTrip(false)).toBe(false);
    for (const n of [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, -(2 ** 53) + 1, -1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1, 0.5, -1.25, 1e300, Number.MIN_VALUE, Number.EPSILON]) {
      expect(roundTrip(n)).toBe(n);
    }
    expect(roundTrip(NaN)).toBeNaN();
    expect(Object.is(roundTrip(-0), -0)).toBe(true);
    expect(Object.is(roundTrip(0), 0)).toBe(true);
    expect(roundTrip(Infinity)).toBe(Infinity);
    expect(roundTrip(-Infinity)).toBe(-Infinity);
    const long = "x".repeat(70_000);
    for (const s of ["", "a", "hello", "x".repeat(31), "x".repeat(32), "x".repeat(63), "x".repeat(64), "x".repeat(255), "x".repeat(256), long, "héllo", "日本語のテキスト", "emoji 🎉 and \u0000 nul", "é".repeat(100), "🎉".repeat(30_000)]) {
      expect(roundTrip(s)).toBe(s);
    }
  });

  test("short strings, which the reader reuses from a cache, come back as themselves even when thousands share its slots", () => {
    const words = Array.from({ length: 20_000 }, (_, i) => i.toString(36).padStart(4, "a"));
    const asKeys = Object.fromEntries(words.slice(0, 5000).map((w) => [w, w.toUpperCase()]));
    for (let round = 0; round < 2; round++) {
      expect(roundTrip(words)).toEqual(words);
      expect(roundTrip(asKeys)).toEqual(asKeys);
    }
    expect(roundTrip(["ab", "ba", "é", "e", "x".repeat(16), "x".repeat(17)])).toEqual(["ab", "ba", "é", "e", "x".repeat(16), "x".repeat(17)]);
  });

  test("bigint of any size and sign", () => {
    for (const b of [0n, 1n, -1n, 255n, 256n, -256n, 2n ** 64n, -(2n ** 64n) - 1n, 12345678901234567890123456789012345678901234567890n]) expect(roundTrip(b)).toBe(b);
  });

  test("undefined keeps its place in arrays and its key in objects", () => {
    const arr = roundTrip([1, undefined, 3]);
    expect(arr).toHaveLength(3);
    expect(arr[1]).toBeUndefined();
    const obj = roundTrip({ a: undefined, b: 1 });
    expect(Object.keys(obj)).toEqual(["a", "b"]);
    expect(Object.hasOwn(obj, "a")).toBe(true);
    expect(obj.a).toBeUndefined();
  });

  test("Date (also an invalid one) and RegExp with its flags", () => {
    const d = roundTrip(new Date(1_700_000_000_123));
    expect(d).toBeInstanceOf(Date);
    expect(d.getTime()).toBe(1_700_000_000_123);
    expect(roundTrip(new Date(NaN)).getTime()).toBeNaN();
    const r = roundTrip(/a\/b[c]+$/gimsuy);
    expect(r).toBeInstanceOf(RegExp);
    expect(r.source).toBe("a\\/b[c]+$");
    expect(r.flags).toBe("gimsuy");
    expect(roundTrip(new RegExp("")).source).toBe(new RegExp("").source);
  });

  test("Map and Set, with object keys and nested in each other", () => {
    const key = { id: 1 };
    const m = new Map<unknown, unknown>([
      ["a", 1],
      [2, new Set([1, "two", undefined])],
      [key, new Map([[null, [new Date(5)]]])],
      [undefined, undefined],
    ]);
    const got = roundTrip(m);
    expect(got).toBeInstanceOf(Map);
    expect([...got.keys()]).toEqual(["a", 2, { id: 1 }, undefined]);
    expect(got.get(2)).toBeInstanceOf(Set);
    expect([...(got.get(2) as Set<unknown>)]).toEqual([1, "two", undefined]);
    expectLikeStructuredClone(m);
    expectLikeStructuredClone(new Set([new Map(), new Set(), [], {}]));
  });

  test("ArrayBuffer, every typed array kind and DataView; a view of part of a buffer arrives as its own bytes", () => {
    const buf = new Uint8Array([1, 2, 3, 250]).buffer;
    const b = roundTrip(buf);
    expect(b).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array(b)]).toEqual([1, 2, 3, 250]);
    const kinds = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, Float32Array, Float64Array] as const;
    for (const Kind of kinds) {
      const a = Kind.from([1, 2, 3, 100, 0]);
      const got = roundTrip(a);
      expect(got.constructor).toBe(Kind);
      expect([...got]).toEqual([...a]);
    }
    expect([...roundTrip(new Float64Array([NaN, -0, Infinity, 1.5]))].map((x) => Object.is(x, -0) ? "-0" : x)).toEqual([NaN, "-0", Infinity, 1.5]);
    for (const Kind of [BigInt64Array, BigUint64Array]) {
      const got = roundTrip(Kind.from([1n, 2n ** 40n]));
      expect(got.constructor).toBe(Kind);
      expect([...got]).toEqual([1n, 2n ** 40n]);
    }
    const F16 = (globalThis as { Float16Array?: { from(xs: number[]): ArrayLike<number> & Iterable<number> } }).Float16Array;
    if (F16) expect([...roundTrip(F16.from([1.5, -2]))]).toEqual([1.5, -2]);
    // A view of bytes 8..24 of a 64-byte buffer: the copy holds just those bytes, at offset 0.
    const whole = new ArrayBuffer(64);
    new Uint8Array(whole).forEach((_, i, a) => (a[i] = i));
    const part = roundTrip(new Float64Array(whole, 8, 2));
    expect(part.byteOffset).toBe(0);
    expect(part.buffer.byteLength).toBe(16);
    expect([...new Uint8Array(part.buffer)]).toEqual([...new Uint8Array(whole, 8, 16)]);
    const odd = roundTrip(new Uint8Array(whole, 3, 5));
    expect([...odd]).toEqual([3, 4, 5, 6, 7]);
    expect(odd.buffer.byteLength).toBe(5);
    const dv = roundTrip(new DataView(whole, 4, 4));
    expect(dv).toBeInstanceOf(DataView);
    expect(dv.byteLength).toBe(4);
    expect(dv.getUint8(0)).toBe(4);
    expect(roundTrip(Buffer.from("hi")).constructor).toBe(Uint8Array); // a subclass arrives as its base kind, as structured clone gives it
    expect(roundTrip(new Uint8Array(0))).toEqual(new Uint8Array(0));
  });

  test("Error objects keep name, message, stack and cause; other names arrive as Error, as structured clone does", () => {
    const e = new TypeError("bad input", { cause: { field: "x", inner: new RangeError("too big") } });
    const got = roundTrip(e);
    const clone = structuredClone(e);
    expect(got).toBeInstanceOf(TypeError);
    expect(got.name).toBe(clone.name);
    expect(got.message).toBe(clone.message);
    expect(got.stack).toBe(clone.stack!);
    expect(got.stack).toBe(e.stack!);
    expect(Object.keys(got)).toEqual([]); // message, stack and cause are not enumerable, as on a thrown error
    const cause = got.cause as { field: string; inner: Error };
    expect(cause.field).toBe("x");
    expect(cause.inner).toBeInstanceOf(RangeError);
    expect(cause.inner.message).toBe("too big");

    class ModelError extends Error {
      override name = "ModelError";
      code = 42;
    }
    const custom = roundTrip(new ModelError("no such model"));
    expect(custom.constructor).toBe(structuredClone(new ModelError("x")).constructor);
    expect(custom.name).toBe("Error");
    expect(custom.message).toBe("no such model");
    expect((custom as ModelError).code).toBeUndefined();

    const bare = new Error("no stack");
    delete bare.stack;
    const gotBare = roundTrip(bare);
    expect(gotBare.message).toBe("no stack");
    expect(gotBare.stack).toBeUndefined();
    expect(Object.hasOwn(roundTrip(new Error()), "message")).toBe(Object.hasOwn(structuredClone(new Error()), "message"));

    const dom = roundTrip(new DOMException("stopped", "AbortError"));
    expect(dom).toBeInstanceOf(DOMException);
    expect(dom.name).toBe("AbortError");
    expect(dom.message).toBe("stopped");
    expect(roundTrip([new SyntaxError("s"), { e: new URIError("u") }]).map(String)).toEqual(["SyntaxError: s", "[object Object]"]);
  });

  test("plain objects, class instances (their fields, as plain objects), null prototypes and a __proto__ key", () => {
    class Point {
      constructor(
        public x: number,
        public y: number,
      ) {}
      norm() {
        return Math.hypot(this.x, this.y);
      }
    }
    const p = roundTrip(new Point(3, 4));
    expect(Object.getPrototypeOf(p)).toBe(Object.prototype);
    expect(p).toEqual(structuredClone(new Point(3, 4)));
    expect({ ...p }).toEqual({ x: 3, y: 4 });
    const bare = roundTrip(Object.assign(Object.create(null), { a: 1 }));
    expect(Object.getPrototypeOf(bare)).toBe(Object.prototype);
    expect(bare.a).toBe(1);
    const tricky = roundTrip(JSON.parse('{"__proto__": {"polluted": true}, "a": [1]}'));
    expect(Object.getPrototypeOf(tricky)).toBe(Object.prototype);
    expect(Object.keys(tricky)).toEqual(["__proto__", "a"]);
    expect(tricky.polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(roundTrip(new Number(3))).toEqual(structuredClone(new Number(3)));
    expect(roundTrip(new String("s")).valueOf()).toBe("s");
    expect(roundTrip(Object(5n)).valueOf()).toBe(5n);
    expect(roundTrip(new Boolean(false))).toBeInstanceOf(Boolean);
  });

  test("a batch of data-plane messages, as the transport sends it", () => {
    const batch = Array.from({ length: 64 }, (_, i) => ({ k: K.Call, id: i, method: "call", args: [i, `name-${i}`, { n: i / 3, tags: ["a", "b"] }], ctx: { requestId: `req-${i}`, modelId: undefined } }));
    batch.push({ k: K.Err, id: 99, e: { name: "TypeError", message: "bad", stack: undefined } } as never);
    expectLikeStructuredClone(batch);
    const mixed = [{ k: K.Ok, id: 1, v: new Map([[1, new Uint8Array([1, 2])]]) }, { k: K.Items, id: 2, v: [new Date(0), 2n, -0] }];
    const got = roundTrip(mixed);
    expect(got).toEqual(structuredClone(mixed));
    expect(Object.is((got[1]!.v as unknown[])[2], -0)).toBe(true);
  });

  test("values nested as deep as JSON allows, and deep Maps", () => {
    let deep: unknown = "bottom";
    for (let i = 0; i < 40_000; i++) deep = i % 2 ? [deep] : { d: deep };
    // The same depth JSON.stringify accepts here:
    expect(() => JSON.stringify(deep)).not.toThrow();
    let got = roundTrip(deep);
    for (let i = 40_000 - 1; i >= 0; i--) got = i % 2 ? (got as unknown[])[0] : (got as { d: unknown }).d;
    expect(got).toBe("bottom");

    let maps: unknown = new Set([1]);
    for (let i = 0; i < 10_000; i++) maps = new Map([["m", maps]]);
    let m = roundTrip(maps);
    for (let i = 0; i < 10_000; i++) m = (m as Map<string, unknown>).get("m");
    expect([...(m as Set<number>)]).toEqual([1]);
  });

  test("a shared object arrives as two copies (a tree), not as a cycle error", () => {
    const shared = { a: 1 };
    let chain: unknown = [shared, shared];
    for (let i = 0; i < 100; i++) chain = [chain, shared];
    expect(() => roundTrip(chain)).not.toThrow();
    expect(roundTrip([shared, shared])).toEqual([{ a: 1 }, { a: 1 }]);
  });
});

describe("cluster codec refuses what cannot cross machines", () => {
  function refusal(v: unknown): Error {
    try {
      encodeWire(v);
    } catch (err) {
      return err as Error;
    }
    throw new Error("encodeWire accepted the value");
  }

  test("a function, a symbol and objects structured clone refuses, named with where they are", () => {
    const fn = refusal([{ k: 1, args: [1, { onDone: function onDone() {} }] }]);
    expect(fn.name).toBe("DataCloneError");
    expect(fn.message).toStartWith("value[0].args[1].onDone is a function (onDone), which cannot be sent to another machine");
    expect(refusal(() => 1).message).toStartWith("value is a function");
    expect(refusal({ s: Symbol("tag") }).message).toStartWith("value.s is a symbol (Symbol(tag))");
    expect(refusal(new Map([["k", Promise.resolve(1)]])).message).toStartWith('value.get("k") is a Promise');
    expect(refusal(new Set([1, new WeakMap()])).message).toStartWith("value.values()[1] is a WeakMap");
    expect(refusal({ "a-b": [new Request("http://x/")] }).message).toStartWith('value["a-b"][0] is a Request');
    expect(refusal(new SharedArrayBuffer(8)).message).toInclude("memory cannot be shared between machines");
    expect(refusal(new Blob(["x"])).message).toInclude("await blob.bytes()");
    expect(refusal(new Error("e", { cause: () => 1 })).message).toStartWith("value.cause is a function");
    for (const v of [() => 1, Symbol("x"), Promise.resolve(), new WeakMap()]) expect(() => structuredClone(v)).toThrow();
  });

  test("cycles, through objects, arrays, Maps and error causes", () => {
    const obj: Record<string, unknown> = { a: 1 };
    obj.self = obj;
    const e1 = refusal(obj);
    expect(e1.name).toBe("DataCloneError");
    expect(e1.message).toInclude("is a cycle (it contains itself)");
    expect(e1.message).toStartWith("value.self.self");
    const arr: unknown[] = [];
    arr.push({ next: arr });
    expect(refusal(arr).message).toInclude("cycle");
    const m = new Map<string, unknown>();
    m.set("m", [m]);
    expect(refusal(m).message).toInclude("cycle");
    const err = new Error("loop");
    (err as { cause?: unknown }).cause = err;
    expect(refusal(err).message).toInclude("cycle");
  });

  test("deeper than JSON allows", () => {
    let deep: unknown = 1;
    for (let i = 0; i < 40_001; i++) deep = [deep];
    const err = refusal(deep);
    expect(err.name).toBe("DataCloneError");
    expect(err.message).toInclude("nested more than 40000 levels deep");
  });

  test("after a refusal the next value encodes as usual", () => {
    refusal({ f: () => 1 });
    expect(roundTrip({ ok: [1, 2] })).toEqual({ ok: [1, 2] });
  });
});

describe("cluster codec reads MessagePack, and only MessagePack", () => {
  test("plain values are plain MessagePack both ways with @msgpack/msgpack", () => {
    const plain = { k: 1, id: 70_000, method: "call", args: [-5, 1.5, "héllo", null, true, [{}]], ctx: { requestId: "r".repeat(300) } };
    expect(decode(encodeWire(plain))).toEqual(plain);
    expect(decodeWire(encode(plain))).toEqual(plain);
    // The library writes bytes as MessagePack's bin: they arrive as a Uint8Array of their own.
    const bin = decodeWire(encode({ b: new Uint8Array([1, 2]) })) as { b: Uint8Array };
    expect(bin.b).toEqual(new Uint8Array([1, 2]));
    expect(bin.b.buffer.byteLength).toBe(2);
    expect(decodeWire(encode({ big: 2 ** 40, neg: -(2 ** 40), f32: Math.fround(0.5) }, { forceFloat32: true }))).toEqual({ big: 2 ** 40, neg: -(2 ** 40), f32: 0.5 });
  });

  test("values read from a Node Buffer (as NATS hands messages over) are copies, not views of it", () => {
    const value = { bytes: new Uint8Array([1, 2, 3]), floats: new Float64Array([0.5]), buf: new Uint8Array([9]).buffer, dv: new DataView(new ArrayBuffer(2)) };
    const pooled = Buffer.alloc(4096);
    const wire = encodeWire(value);
    pooled.set(wire, 100);
    const got = decodeWire(pooled.subarray(100, 100 + wire.length)) as typeof value;
    const fromBin = decodeWire(Buffer.from(encode({ b: new Uint8Array([7, 8]) }))) as { b: Uint8Array };
    pooled.fill(0);
    expect(got.bytes.constructor).toBe(Uint8Array);
    expect([...got.bytes]).toEqual([1, 2, 3]);
    expect(got.bytes.buffer.byteLength).toBe(3);
    expect([...got.floats]).toEqual([0.5]);
    expect([...new Uint8Array(got.buf)]).toEqual([9]);
    expect(got.dv.byteLength).toBe(2);
    expect(fromBin.b.constructor).toBe(Uint8Array);
    expect([...fromBin.b]).toEqual([7, 8]);
  });

  test("a broken message fails with a WireDecodeError saying what is wrong", () => {
    const fails = (bytes: Uint8Array): Error => {
      try {
        decodeWire(bytes);
      } catch (err) {
        return err as Error;
      }
      throw new Error("decodeWire accepted the bytes");
    };
    const whole = encodeWire({ a: [1, 2, "three"], b: new Date(0) });
    for (let cut = 0; cut < whole.length; cut++) {
      const err = fails(whole.subarray(0, cut));
      expect(err.name).toBe("WireDecodeError");
      expect(err.message).toStartWith("cannot decode a message from another machine: it ends in the middle of a value");
    }
    expect(fails(Uint8Array.of(0xc1)).message).toBe("cannot decode a message from another machine: byte 0xc1 at 0 starts no MessagePack value");
    expect(fails(Uint8Array.of(0x01, 0x02)).message).toBe("cannot decode a message from another machine: 1 extra bytes after the value");
    expect(fails(Uint8Array.of(0xd4, 99, 0)).message).toBe("cannot decode a message from another machine: unknown extension type 99 (a newer tsserve on the other machine?)");
    expect(fails(Uint8Array.of(0x81, 0x01, 0x02)).message).toBe("cannot decode a message from another machine: an object key is a number, not a string");
    // An array that claims four billion items in five bytes is refused before anything is allocated.
    expect(fails(Uint8Array.of(0xdd, 0xff, 0xff, 0xff, 0xff)).message).toBe("cannot decode a message from another machine: it ends in the middle of a value (an array of 4294967295 items, 0 bytes left)");
    expect(fails(Uint8Array.of(0xa2, 0xff, 0xfe)).name).toBe("WireDecodeError"); // not UTF-8
    expect(fails(Uint8Array.of(0xd4, 14, 0)).name).toBe("WireDecodeError"); // 1 byte as a Float64Array
    // Another encoder's "__proto__" key would set the prototype if assigned: refused.
    const polluting = fails(encode(JSON.parse('{"__proto__": {"polluted": true}}')));
    expect(polluting.message).toBe('cannot decode a message from another machine: an object key is "__proto__"');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(decodeWire(encodeWire([1]))).toEqual([1]); // and the next message reads as usual
  });
});

test("cluster codec under load: thousands of random values round trip like structuredClone", () => {
  const seed = Number(process.env.CODEC_SEED ?? Date.now() % 1_000_000);
  const random = rng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)]!;
  const leaf = (): unknown =>
    pick<() => unknown>([
      () => Math.floor(random() * 2 ** 40) - 2 ** 39,
      () => random() * 1e6,
      () => pick([NaN, -0, Infinity, -Infinity, 0]),
      () => "s".repeat(Math.floor(random() * 80)) + pick(["", "é", "🎉"]),
      () => pick([true, false, null, undefined]),
      () => BigInt(Math.floor(random() * 1e9)) * pick([1n, -1n, 10n ** 20n]),
      () => new Date(Math.floor(random() * 1e12)),
      () => Float32Array.from({ length: Math.floor(random() * 5) }, () => random()),
    ])();
  const value = (depth: number): unknown => {
    if (depth > 4 || random() < 0.3) return leaf();
    const n = Math.floor(random() * 5);
    return pick<() => unknown>([
      () => Array.from({ length: n }, () => value(depth + 1)),
      () => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, value(depth + 1)])),
      // Keys differ from each other: toEqual pairs up equal-looking keys of two Maps in any order.
      () => new Map(Array.from({ length: n }, (_, i) => [pick<unknown>([i, `k${i}`, new Date(i), [i], BigInt(i)]), value(depth + 1)])),
      () => new Set(Array.from({ length: n }, () => value(depth + 1))),
    ])();
  };
  let checked = 0;
  for (let i = 0; i < 3000; i++) {
    const v = value(0);
    const got = roundTrip(v);
    try {
      expect(got).toEqual(structuredClone(v));
    } catch (err) {
      throw new Error(`value ${i} differs (replay with CODEC_SEED=${seed}): ${(err as Error).message}`);
    }
    checked++;
  }
  expect(checked).toBe(3000);
});
