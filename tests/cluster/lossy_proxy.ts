/**
 * A TCP proxy between one node and the NATS server that can lose messages on the way to the node,
 * as NATS core may (it delivers at most once) without either connection dropping. It reads the
 * server's side of the NATS protocol (`MSG <subject> <sid> [reply] <bytes>` and `HMSG ... <header
 * bytes> <bytes>`, each followed by its payload) and drops whole messages whose subject matches
 * what the test asked for; everything else passes unchanged, both ways.
 */
import { createServer, connect, type Server, type Socket } from "node:net";

export interface LossyProxy extends AsyncDisposable {
  /** `nats://127.0.0.1:<port>`: give this to the node instead of the server's URL. */
  url: string;
  /**
   * Drops messages whose subject matches `subject` (and whose payload holds the text `payload`, if
   * given): every `every`-th of them (1 by default), `times` times (once by default when `every`
   * is 1, else until the next call).
   */
  drop(subject: RegExp, options?: { every?: number; times?: number; payload?: string }): void;
  /** Messages dropped so far, by subject. */
  readonly dropped: string[];
}

export async function startLossyProxy(natsPort: number): Promise<LossyProxy> {
  let rule: { subject: RegExp; every: number; times: number; payload?: Buffer; seen: number } | undefined;
  const dropped: string[] = [];
  const sockets = new Set<Socket>();
  const keep = (subject: string, payload: Buffer): boolean => {
    if (!rule || !rule.subject.test(subject) || (rule.payload && !payload.includes(rule.payload))) return true;
    if (++rule.seen % rule.every !== 0) return true;
    dropped.push(subject);
    if (--rule.times === 0) rule = undefined;
    return false;
  };
  const server: Server = createServer((client) => {
    const upstream = connect(natsPort, "127.0.0.1");
    sockets.add(client).add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
    client.on("data", (chunk) => upstream.write(chunk));
    let pending = Buffer.alloc(0);
    upstream.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      const out: Buffer[] = [];
      for (;;) {
        const eol = pending.indexOf("\r\n");
        if (eol < 0) break;
        const line = pending.subarray(0, eol).toString("latin1");
        let frameEnd = eol + 2;
        let subject: string | undefined;
        let payload = Buffer.alloc(0);
        if (line.startsWith("MSG ") || line.startsWith("HMSG ")) {
          const parts = line.split(" ");
          const bytes = Number(parts[parts.length - 1]);
          if (pending.length < eol + 2 + bytes + 2) break;
          frameEnd = eol + 2 + bytes + 2;
          subject = parts[1];
          payload = pending.subarray(eol + 2, eol + 2 + bytes);
        }
        const frame = pending.subarray(0, frameEnd);
        pending = pending.subarray(frameEnd);
        if (subject === undefined || keep(subject, payload)) out.push(frame);
      }
      if (out.length) client.write(Buffer.concat(out));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `nats://127.0.0.1:${port}`,
    dropped,
    drop(subject, { every = 1, times = every === 1 ? 1 : Infinity, payload } = {}) {
      rule = { subject, every, times, seen: 0, ...(payload !== undefined && { payload: Buffer.from(payload) }) };
    },
    async [Symbol.asyncDispose]() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
