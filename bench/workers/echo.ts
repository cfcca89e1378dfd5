// Echoes every message straight back to the main thread: the raw postMessage floor.
export {};
declare var self: Worker;

self.onmessage = (e: MessageEvent) => {
  postMessage(e.data);
};
