/** Stand-in until codec.ts (structured-clone fidelity) lands: MessagePack, with buffers and byte arrays copied out of the NATS message. */
import { decode, encode, ExtensionCodec } from "@msgpack/msgpack";

/** A copy of the bytes: NATS hands over Node Buffers, whose slice() is a view of the socket's chunk, not a copy. */
const copy = (data: Uint8Array): Uint8Array => Uint8Array.prototype.slice.call(data);

const extensionCodec = new ExtensionCodec();
extensionCodec.register({
  type: 1,
  encode: (v: unknown) => (v instanceof ArrayBuffer ? new Uint8Array(v) : null),
  decode: (data: Uint8Array) => copy(data).buffer,
});
extensionCodec.register({
  type: 2,
  encode: (v: unknown) => (v instanceof Uint8Array ? v : null),
  decode: (data: Uint8Array) => copy(data),
});
export const encodeWire = (v: unknown): Uint8Array => encode(v, { ignoreUndefined: true, extensionCodec });
export const decodeWire = (b: Uint8Array): unknown => decode(b, { extensionCodec });
