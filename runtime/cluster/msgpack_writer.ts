/**
 * A growable byte buffer that writes MessagePack's scalar encodings: the low half of the
 * cluster codec (codec.ts walks the value and decides what to write).
 *
 * Why not @msgpack/msgpack's Encoder: it writes `undefined` as nil and -0 as the integer 0
 * before its extension hook ever sees them, and it recurses (so it refuses values deeper than
 * its maxDepth). The bytes written here are plain MessagePack that its Decoder reads.
 */

const textEncoder = new TextEncoder();

/** A buffer grown past this for one large value is let go after it, not kept for the small ones. */
const KEEP_BYTES = 1 << 20;

/** Strings up to this many UTF-16 units are written by a loop (cheaper than encodeInto for short ones). */
const SHORT_STRING = 64;

export class MsgpackWriter {
  bytes: Uint8Array;
  view: DataView;
  pos = 0;

  constructor(readonly size = 64 * 1024) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }

  /** The bytes written since the last reset, as a copy (the caller may keep them past the next encode). */
  take(): Uint8Array {
    const out = this.bytes.slice(0, this.pos);
    if (this.bytes.length > KEEP_BYTES) {
      this.bytes = new Uint8Array(this.size);
      this.view = new DataView(this.bytes.buffer);
    }
    return out;
  }

  ensure(n: number): void {
    if (this.pos + n <= this.bytes.length) return;
    const bigger = new Uint8Array(Math.max(this.bytes.length * 2, this.pos + n));
    bigger.set(this.bytes.subarray(0, this.pos));
    this.bytes = bigger;
    this.view = new DataView(bigger.buffer);
  }

  u8(b: number): void {
    this.ensure(1);
    this.bytes[this.pos++] = b;
  }

  nil(): void {
    this.u8(0xc0);
  }

  bool(b: boolean): void {
    this.u8(b ? 0xc3 : 0xc2);
  }

  number(n: number): void {
    this.ensure(9);
    const { bytes, view } = this;
    // -0 must stay -0 (structured clone keeps it): only a float carries the sign of zero.
    if ((n | 0) === n && (n !== 0 || 1 / n > 0)) {
      if (n >= 0) {
        if (n < 0x80) bytes[this.pos++] = n;
        else if (n < 0x100) {
          bytes[this.pos++] = 0xcc;
          bytes[this.pos++] = n;
        } else if (n < 0x10000) {
          bytes[this.pos++] = 0xcd;
          view.setUint16(this.pos, n);
          this.pos += 2;
        } else {
          bytes[this.pos++] = 0xce;
          view.setUint32(this.pos, n);
          this.pos += 4;
        }
      } else if (n >= -0x20) {
        bytes[this.pos++] = n & 0xff;
      } else if (n >= -0x80) {
        bytes[this.pos++] = 0xd0;
        view.setInt8(this.pos++, n);
      } else if (n >= -0x8000) {
        bytes[this.pos++] = 0xd1;
        view.setInt16(this.pos, n);
        this.pos += 2;
      } else {
        bytes[this.pos++] = 0xd2;
        view.setInt32(this.pos, n);
        this.pos += 4;
      }
    } else if (n >>> 0 === n && n !== 0) {
      bytes[this.pos++] = 0xce;
      view.setUint32(this.pos, n);
      this.pos += 4;
    } else {
      // Everything else (fractions, NaN, ±Infinity, -0, integers past 32 bits) is exact as a double.
      bytes[this.pos++] = 0xcb;
      view.setFloat64(this.pos, n);
      this.pos += 8;
    }
  }

  string(s: string): void {
    const n = s.length;
    if (n < SHORT_STRING && this.#ascii(s, n)) return;
    // At most 3 bytes per UTF-16 unit: the header is sized for that, which MessagePack allows
    // even when the string turns out shorter (a str 16 header for 40 bytes, say).
    const max = n * 3;
    this.ensure(max + 5);
    const head = this.pos;
    const at = head + (max < 32 ? 1 : max < 0x100 ? 2 : max < 0x10000 ? 3 : 5);
    const { written } = textEncoder.encodeInto(s, this.bytes.subarray(at));
    if (max < 32) this.bytes[head] = 0xa0 | written;
    else if (max < 0x100) {
      this.bytes[head] = 0xd9;
      this.bytes[head + 1] = written;
    } else if (max < 0x10000) {
      this.bytes[head] = 0xda;
      this.view.setUint16(head + 1, written);
    } else {
      this.bytes[head] = 0xdb;
      this.view.setUint32(head + 1, written);
    }
    this.pos = at + written;
  }

  /** Writes `s` if it is all ASCII (one byte per unit, so its length is known up front). */
  #ascii(s: string, n: number): boolean {
    this.ensure(n + 2);
    const bytes = this.bytes;
    const at = this.pos + (n < 32 ? 1 : 2);
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) return false;
      bytes[at + i] = c;
    }
    if (n < 32) bytes[this.pos] = 0xa0 | n;
    else {
      bytes[this.pos] = 0xd9;
      bytes[this.pos + 1] = n;
    }
    this.pos = at + n;
    return true;
  }

  arrayHeader(n: number): void {
    this.#header(n, 0x90, 0xdc, 0xdd);
  }

  mapHeader(n: number): void {
    this.#header(n, 0x80, 0xde, 0xdf);
  }

  #header(n: number, fix: number, sixteen: number, thirtyTwo: number): void {
    this.ensure(5);
    if (n < 16) this.bytes[this.pos++] = fix | n;
    else if (n < 0x10000) {
      this.bytes[this.pos++] = sixteen;
      this.view.setUint16(this.pos, n);
      this.pos += 2;
    } else {
      this.bytes[this.pos++] = thirtyTwo;
      this.view.setUint32(this.pos, n);
      this.pos += 4;
    }
  }

  /** An extension value: `type` (0-127) and its payload. */
  ext(type: number, data: Uint8Array): void {
    const n = data.byteLength;
    this.ensure(n + 6);
    const { bytes } = this;
    const fixed = n === 1 ? 0xd4 : n === 2 ? 0xd5 : n === 4 ? 0xd6 : n === 8 ? 0xd7 : n === 16 ? 0xd8 : 0;
    if (fixed) bytes[this.pos++] = fixed;
    else if (n < 0x100) {
      bytes[this.pos++] = 0xc7;
      bytes[this.pos++] = n;
    } else if (n < 0x10000) {
      bytes[this.pos++] = 0xc8;
      this.view.setUint16(this.pos, n);
      this.pos += 2;
    } else {
      bytes[this.pos++] = 0xc9;
      this.view.setUint32(this.pos, n);
      this.pos += 4;
    }
    bytes[this.pos++] = type;
    bytes.set(data, this.pos);
    this.pos += n;
  }
}
