// A WebSocket client over raw TCP that reads slowly (it pauses its socket between reads), so
// the server sees a slow client: what a browser on a bad link looks like to the proxy.
import { connect, type Socket } from "node:net";

export interface SlowRead {
  /** The 101 answer's status line and headers. */
  head: string;
  /** Text messages received, in order (binary ones as "<binary n>"). */
  messages: string[];
  closeCode: number | undefined;
}

/**
 * Connects to `path` on the HTTP server at `httpUrl`, then reads at most `bytesPerTick` every
 * `tickMs` until the server closes (or `timeoutMs` passes). `onMessage` sees each message.
 */
export function slowRead(httpUrl: string, path: string, opts: { bytesPerTick: number; tickMs: number; timeoutMs: number; headers?: Record<string, string>; stopAfter?: number; keep?: boolean; onMessage?: (m: string) => void; stall?: { after: number; ms: number; then: () => void } }): Promise<SlowRead> {
  const { hostname, port } = new URL(httpUrl);
  return new Promise((resolve, reject) => {
    const out: SlowRead = { head: "", messages: [], closeCode: undefined };
    const sock: Socket = connect({ host: hostname, port: Number(port) });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`slow reader: no close within ${opts.timeoutMs} ms after ${out.messages.length} messages`));
    }, opts.timeoutMs);
    let buf: Buffer = Buffer.alloc(0);
    let upgraded = false;
    let readThisTick = 0;
    let received = 0;
    let stalled = false;
    sock.on("connect", () => {
      const extra = Object.entries(opts.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join("");
      sock.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`);
    });
    sock.on("data", (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      if (!upgraded) {
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = (out.head = buf.subarray(0, end).toString());
        if (!head.startsWith("HTTP/1.1 101")) return reject(new Error(`slow reader: upgrade refused: ${head.split("\r\n")[0]}`));
        upgraded = true;
        buf = buf.subarray(end + 4);
      }
      for (;;) {
        if (buf.length < 2) break;
        const opcode = buf[0]! & 0x0f;
        let len = buf[1]! & 0x7f;
        let at = 2;
        if (len === 126) {
          if (buf.length < 4) break;
          len = buf.readUInt16BE(2);
          at = 4;
        } else if (len === 127) {
          if (buf.length < 10) break;
          len = Number(buf.readBigUInt64BE(2));
          at = 10;
        }
        if (buf.length < at + len) break;
        const payload = buf.subarray(at, at + len);
        buf = buf.subarray(at + len);
        if (opcode === 1 || opcode === 2) {
          received++;
          const m = opcode === 1 ? payload.toString() : `<binary ${len}>`;
          if (opts.keep !== false) out.messages.push(m);
          if (opcode === 1) opts.onMessage?.(m);
          if (opts.stopAfter !== undefined && received >= opts.stopAfter) {
            // Enough read: leave without a close frame (the server sees 1006).
            clearTimeout(timer);
            sock.destroy();
            return resolve(out);
          }
        } else if (opcode === 8) {
          out.closeCode = len >= 2 ? payload.readUInt16BE(0) : 1005;
          clearTimeout(timer);
          sock.end();
          return resolve(out);
        } else if (opcode === 9) {
          // A ping: answer with a masked pong (clients mask every frame).
          const mask = Buffer.from([1, 2, 3, 4]);
          const body = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
          sock.write(Buffer.concat([Buffer.from([0x8a, 0x80 | body.length]), mask, body]));
        }
      }
      if (opts.stall && !stalled && received >= opts.stall.after) {
        // Stop reading for a while: the sender must stop too, a bounded distance ahead.
        stalled = true;
        sock.pause();
        setTimeout(() => {
          opts.stall!.then();
          sock.resume();
        }, opts.stall.ms);
        return;
      }
      readThisTick += chunk.length;
      if (readThisTick >= opts.bytesPerTick) {
        readThisTick = 0;
        sock.pause();
        setTimeout(() => sock.resume(), opts.tickMs);
      }
    });
    sock.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}
