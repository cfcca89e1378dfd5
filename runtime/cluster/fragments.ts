/**
 * Batches bigger than one NATS message. A NATS server refuses a message over its `max_payload`
 * (1 MB unless configured otherwise; nats.js throws on publish), while a batch may carry a
 * request body or a result of up to the proxy's 100 MB. Such a batch leaves as fragments, each a
 * message of its own on the same subject: `[...key, bytes, i, n]`, where `bytes` is piece `i` of
 * `n` of the whole encoded message and `key` the fields that name its port (a thread, and on the
 * answer side the replica).
 *
 * Invariant: the fragments of one port's batch are published one after the other by the one
 * publisher of that port (bridge.ts), and NATS keeps one publisher's order on a subject, so a
 * port's fragments arrive in order and never interleave with its other batches; other ports'
 * messages may come between them, hence reassembly per port key.
 */
import { decodeWire, encodeWire } from "./codec.ts";

/** Room left in each fragment for its key and framing. */
const FRAMING_BYTES = 4096;
/** The smallest fragment worth sending, whatever a server says its limit is. */
const MIN_FRAGMENT = 64 * 1024;

/** The messages to publish for `[...key, batch]`: itself when it fits in `maxPayload`, else its fragments. */
export function fragment(key: unknown[], batch: unknown, maxPayload: number): Uint8Array[] {
  const whole = encodeWire([...key, batch]);
  if (whole.byteLength <= maxPayload) return [whole];
  const size = Math.max(MIN_FRAGMENT, maxPayload - FRAMING_BYTES);
  const n = Math.ceil(whole.byteLength / size);
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) out.push(encodeWire([...key, whole.subarray(i * size, (i + 1) * size), i, n]));
  return out;
}

/** Puts fragments back together, per port key; whole messages pass through. */
export class Reassembly {
  readonly #parts = new Map<string, Uint8Array[]>();

  /**
   * A received message, decoded, with `keyLength` key fields first: the whole message
   * (`[...key, batch]`) when it is one or its last fragment arrived, else undefined.
   */
  receive(data: Uint8Array, keyLength: number): unknown[] | undefined {
    const msg = decodeWire(data) as unknown[];
    const piece = msg[keyLength];
    if (!(piece instanceof Uint8Array) || msg.length !== keyLength + 3) return msg;
    // A batch is an array or a JSON string (wire/port.ts), never bytes: this is a fragment.
    const [i, n] = msg.slice(keyLength + 1) as [number, number];
    const key = msg.slice(0, keyLength).join("\n");
    if (i === 0) this.#parts.set(key, []);
    const parts = this.#parts.get(key);
    // The rest of a batch whose start was dropped (its port was gone meanwhile) is dropped too.
    if (!parts || parts.length !== i) return void this.#parts.delete(key);
    parts.push(piece);
    if (i < n - 1) return undefined;
    this.#parts.delete(key);
    return decodeWire(concat(parts)) as unknown[];
  }

  /** Drops what was half received on the ports whose key fields `match` (their sender or receiver is gone). */
  forget(match: (key: string[]) => boolean): void {
    for (const key of this.#parts.keys()) if (match(key.split("\n"))) this.#parts.delete(key);
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.byteLength;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
