// Reads one streamed HTTP response to the end in its own process and prints
// {"bytes","reads","seconds"} as JSON; seconds run from the response headers to the last byte.
//   bun bench/streamclient.ts http://127.0.0.1:PORT/
export {};

const url = process.argv[2];
if (!url) throw new Error("usage: bun bench/streamclient.ts <url>");
const res = await fetch(url, { signal: AbortSignal.timeout(60_000) });
if (!res.body) throw new Error(`no body (status ${res.status})`);
const t0 = Bun.nanoseconds();
let bytes = 0;
let reads = 0;
for await (const chunk of res.body) {
  bytes += chunk.byteLength;
  reads++;
}
console.log(JSON.stringify({ bytes, reads, seconds: (Bun.nanoseconds() - t0) / 1e9 }));
