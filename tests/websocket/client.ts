// A promise-based WebSocket client for tests (Bun's WebSocket): every wait is bounded.

export type Received = string | Uint8Array;

export interface TestSocket extends AsyncDisposable {
  ws: WebSocket;
  /** The next message (text as a string, binary as bytes); fails after `timeoutMs`. */
  next(timeoutMs?: number): Promise<Received>;
  send(data: string | Uint8Array): void;
  /** Resolves with the close code and reason. */
  closed: Promise<{ code: number; reason: string }>;
}

/** Opens a socket; rejects with the failure (an upgrade refused with HTTP, say) or after `timeoutMs`. */
export function openSocket(url: string, headers: Record<string, string> = {}, timeoutMs = 5000): Promise<TestSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers } as unknown as string[]);
    ws.binaryType = "arraybuffer";
    const inbox: Received[] = [];
    const waiting: ((m: Received) => void)[] = [];
    let closeInfo: { code: number; reason: string } | undefined;
    let onClose: ((c: { code: number; reason: string }) => void) | undefined;
    const closed = new Promise<{ code: number; reason: string }>((r) => (onClose = r));
    const timer = setTimeout(() => reject(new Error(`socket to ${url} did not open within ${timeoutMs} ms`)), timeoutMs);
    ws.onmessage = (e) => {
      const m: Received = typeof e.data === "string" ? e.data : new Uint8Array(e.data as ArrayBuffer);
      const w = waiting.shift();
      if (w) w(m);
      else inbox.push(m);
    };
    ws.onerror = (e) => {
      clearTimeout(timer);
      reject(new Error((e as ErrorEvent).message ?? "socket error"));
    };
    ws.onclose = (e) => {
      closeInfo = { code: e.code, reason: e.reason };
      onClose!(closeInfo);
    };
    ws.onopen = () => {
      clearTimeout(timer);
      resolve({
        ws,
        closed,
        send: (d) => ws.send(d),
        next(ms = 5000) {
          const m = inbox.shift();
          if (m !== undefined) return Promise.resolve(m);
          return new Promise((res, rej) => {
            const t = setTimeout(() => rej(new Error(`no message within ${ms} ms${closeInfo ? ` (closed ${closeInfo.code})` : ""}`)), ms);
            waiting.push((v) => {
              clearTimeout(t);
              res(v);
            });
          });
        },
        async [Symbol.asyncDispose]() {
          if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close();
        },
      });
    };
  });
}

/** `closed`, or a failure after `timeoutMs`. */
export function closedWithin(s: TestSocket, timeoutMs = 5000): Promise<{ code: number; reason: string }> {
  return Promise.race([s.closed, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`socket not closed within ${timeoutMs} ms`)), timeoutMs))]);
}

export const wsUrl = (httpUrl: string, path: string): string => httpUrl.replace(/^http/, "ws") + path;
