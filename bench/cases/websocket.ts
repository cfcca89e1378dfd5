// Issue 16: WebSockets through tsserve against a raw Bun.serve websocket in the same run:
// echo round trips per second over one socket, and messages per second one way (server to
// client, 16 B text), the client in a process of its own. Target: >= 0.5 of raw.
import type { Application } from "tsserve";
import { wsEchoApp, wsSourceApp } from "../apps/websocket.ts";
import { runBounded } from "../load.ts";
import { startWorker } from "../floors.ts";
import type { Row } from "../report.ts";
import type { BenchCase } from "./index.ts";
import { withServe } from "./serve.ts";

const MESSAGE = "aaaaaaaaaaaaaaaa";

async function client(mode: "echo" | "read", url: string, seconds: number): Promise<number> {
  const script = new URL("../wsclient.ts", import.meta.url).pathname;
  const r = await runBounded([process.execPath, script, mode, url, String(seconds)], (seconds + 15) * 1000);
  if (r.code !== 0 || r.timedOut) throw new Error(`websocket client failed (exit ${r.code}):\n${r.stderr}`);
  const out = JSON.parse(r.stdout.trim()) as { count: number; seconds: number };
  return out.count / out.seconds;
}

/** A raw Bun.serve websocket listener on a free loopback port, with these handlers. */
function wsServer(websocket: import("bun").WebSocketHandler<undefined>) {
  return Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(req, srv) {
      return srv.upgrade(req) ? undefined : new Response("upgrade", { status: 400 });
    },
    websocket,
  });
}

/** The floor: Bun.serve's own websocket, echoing, or sending as fast as the socket drains. */
async function raw(mode: "echo" | "read", seconds: number): Promise<number> {
  let stop = false;
  const pump = (ws: import("bun").ServerWebSocket<undefined>) => {
    while (!stop && ws.readyState === 1) if (ws.send(MESSAGE) === -1) return; // wait for drain
  };
  const server = wsServer({
    open(ws) {
      if (mode === "read") pump(ws);
    },
    message(ws, m) {
      if (mode === "echo") ws.send(m);
    },
    drain(ws) {
      if (mode === "read") pump(ws);
    },
    close() {
      stop = true;
    },
  });
  try {
    return await client(mode, `ws://127.0.0.1:${server.port}/`, seconds);
  } finally {
    stop = true;
    server.stop(true);
  }
}

/**
 * The design's floor for the echo: Bun.serve's websocket, each message taking one raw
 * postMessage hop to a Worker and back before it is sent (what any relay to a replica thread
 * pays: two thread wake-ups per round trip), as (b) is for HTTP.
 */
async function rawWithWorkerHop(seconds: number): Promise<number> {
  const worker = await startWorker();
  let socket: import("bun").ServerWebSocket<undefined> | undefined;
  worker.onmessage = (e) => socket?.send(e.data);
  const server = wsServer({
    open(ws) {
      socket = ws;
    },
    message(_ws, m) {
      worker.postMessage(m);
    },
  });
  try {
    return await client("echo", `ws://127.0.0.1:${server.port}/`, seconds);
  } finally {
    server.stop(true);
    worker.terminate();
  }
}

function viaTsserve(app: Application, mode: "echo" | "read", seconds: number): Promise<number> {
  return withServe(app, (url) => client(mode, url.replace(/^http/, "ws"), seconds));
}

export const websockets: BenchCase = {
  name: "websockets through tsserve",
  async run(ctx) {
    const s = ctx.quick ? 1 : 2;
    const rawEcho = await raw("echo", s);
    const hopEcho = await rawWithWorkerHop(s);
    const echo = await viaTsserve(wsEchoApp, "echo", s);
    const rawRead = await raw("read", s);
    const read = await viaTsserve(wsSourceApp, "read", s);
    return [
      { name: "websocket: raw Bun.serve echo, 1 socket", value: rawEcho, unit: "round trips/s" },
      { name: "websocket: raw echo + worker hop", value: hopEcho, unit: "round trips/s", ratioTo: rawEcho },
      { name: "websocket: tsserve echo, 1 socket", value: echo, unit: "round trips/s", ratioTo: rawEcho, target: 0.5 },
      { name: "websocket: tsserve echo / worker hop", value: echo, unit: "round trips/s", ratioTo: hopEcho },
      { name: "websocket: raw Bun.serve, one way", value: rawRead, unit: "msgs/s" },
      { name: "websocket: tsserve, replica -> client", value: read, unit: "msgs/s", ratioTo: rawRead, target: 0.5 },
    ];
  },
};
