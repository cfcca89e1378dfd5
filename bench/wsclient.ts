// A WebSocket client in its own process, so it does not share the server's thread. Prints
// {"count","seconds"} as JSON.
//   bun bench/wsclient.ts echo ws://127.0.0.1:PORT/ SECONDS    sequential round trips (16 B text)
//   bun bench/wsclient.ts read ws://127.0.0.1:PORT/ SECONDS    messages received, one way
export {};

const [mode, url, secondsArg] = process.argv.slice(2);
if ((mode !== "echo" && mode !== "read") || !url) throw new Error("usage: bun bench/wsclient.ts echo|read <ws url> <seconds>");
const seconds = Number(secondsArg ?? 2);
const MESSAGE = "aaaaaaaaaaaaaaaa";

const ws = new WebSocket(url);
await new Promise<void>((resolve, reject) => {
  ws.onopen = () => resolve();
  ws.onerror = (e) => reject(new Error((e as ErrorEvent).message));
});
let count = 0;
const warmEnd = performance.now() + 300;
let t0 = 0;
let end = Infinity;
const done = new Promise<void>((resolve) => {
  ws.onmessage = () => {
    const now = performance.now();
    if (t0 === 0 && now >= warmEnd) {
      t0 = now;
      end = now + seconds * 1000;
    }
    if (t0) count++;
    if (now >= end) return resolve();
    if (mode === "echo") ws.send(MESSAGE);
  };
});
if (mode === "echo") ws.send(MESSAGE);
await done;
const elapsed = (performance.now() - t0) / 1000;
ws.close();
console.log(JSON.stringify({ count, seconds: elapsed }));
process.exit(0);
