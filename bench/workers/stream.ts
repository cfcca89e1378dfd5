// Streams small items to the main thread over a transferred MessagePort, as fast as credits allow.
// Main sends { port, perMessage } first, then { credits: n } grants and finally { stop: true } on the port.
export {};
declare var self: Worker;

interface Start {
  port: MessagePort;
  perMessage: number;
}

self.onmessage = (e: MessageEvent<Start>) => {
  const { port, perMessage } = e.data;
  const item = "0123456789abcdef"; // 16 bytes
  const batch = perMessage > 1 ? Array.from({ length: perMessage }, () => item) : null;
  let credits = 0;
  let stopped = false;
  port.onmessage = (m) => {
    const msg = m.data as { credits?: number; stop?: boolean };
    if (msg.stop) {
      stopped = true;
      port.close();
      return;
    }
    credits += msg.credits ?? 0;
    while (credits > 0 && !stopped) {
      port.postMessage(batch ?? item);
      credits--;
    }
  };
};
