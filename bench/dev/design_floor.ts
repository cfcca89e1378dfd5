// Dev aid: the floor of tsserve's HTTP design, in forty lines: Bun.serve, request messages
// batched per event-loop turn into one JSON string to a Worker, answers back in one JSON
// string, a Response per answer. Prints rps and CPU per request by thread, next to tsserve's
// (c) from `bun bench/dev/http_cpu.ts c`: the gap between the two is what tsserve's own code
// costs; the rest is the design (measured 2026-11: main thread within about 0.5 us).
import { measureHttp } from "../load.ts";
import { perThread, threadTimes } from "./threads.ts";

const worker = new Worker(new URL("../workers/http_batch.ts", import.meta.url).href);
const { port1: port, port2 } = new MessageChannel();
worker.postMessage({ port: port2 }, [port2]);

const waiting = new Map<number, (r: Response) => void>();
port.onmessage = (m) => {
  for (const answer of JSON.parse(m.data as string)) {
    const resolve = waiting.get(answer.id)!;
    waiting.delete(answer.id);
    const head = answer.v;
    head.headers["x-request-id"] = `floor-${answer.id}`;
    resolve(new Response(head.body, { status: head.status, headers: head.headers }));
  }
};

let queue: unknown[] = [];
let flushing = false;
let seq = 0;
const flush = () => {
  flushing = false;
  const batch = queue;
  queue = [];
  port.postMessage(JSON.stringify(batch));
};

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  development: false,
  fetch(req) {
    const url = req.url;
    const headers = (req.headers as unknown as { toJSON(): Record<string, string> }).toJSON();
    return new Promise<Response>((resolve) => {
      const id = ++seq;
      waiting.set(id, resolve);
      queue.push({ k: 1, id, method: "", args: [{ method: req.method, url, headers, body: null }], ctx: { requestId: `floor-${id}`, route: "/" }, http: true });
      if (!flushing) {
        flushing = true;
        setImmediate(flush);
      }
    });
  },
});

const url = `http://127.0.0.1:${server.port}/`;
await measureHttp(url, { connections: 64, durationS: 1 });
const before = threadTimes();
const r = await measureHttp(url, { connections: 64, durationS: 3 });
console.log(`design floor: ${r.rps.toFixed(0)} req/s; by thread: ${perThread(before, threadTimes(), r.rps * 3)}`);
await server.stop(true);
worker.terminate();
process.exit(0);
