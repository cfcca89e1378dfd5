// Dev aid: CPU microseconds per WebSocket echo round trip (or per message one way, `read`) in
// this process (main thread + replica Workers), raw Bun.serve against tsserve, with the client in
// its own process. CPU per message stays meaningful when other work shares the machine; messages
// per second do not.
//   bun bench/dev/ws_cpu.ts [echo|read]
import { serve } from "tsserve";
import { runBounded } from "../load.ts";
import { perThread, threadTimes } from "./threads.ts";
import { wsEchoApp, wsSourceApp } from "../apps/websocket.ts";

const SECONDS = 3;
const MODE = process.argv[2] === "read" ? "read" : "echo";
const MESSAGE = "aaaaaaaaaaaaaaaa";

async function cpuPerRoundTrip(url: string): Promise<{ us: number; perS: number }> {
  const script = new URL("../wsclient.ts", import.meta.url).pathname;
  const before = process.cpuUsage();
  const threadsBefore = threadTimes();
  const r = await runBounded([process.execPath, script, MODE, url, String(SECONDS)], (SECONDS + 15) * 1000);
  const d = process.cpuUsage(before);
  const out = JSON.parse(r.stdout.trim()) as { count: number; seconds: number };
  // The client's 300 ms warm-up runs too: count it in.
  const total = out.count * ((out.seconds + 0.3) / out.seconds);
  console.log(`  by thread: ${perThread(threadsBefore, threadTimes(), total)}`);
  return { us: (d.user + d.system) / total, perS: out.count / out.seconds };
}

const raw = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  fetch: (req, srv) => (srv.upgrade(req) ? undefined : new Response("upgrade", { status: 400 })),
  websocket: {
    message: (ws, m) => void ws.send(m),
    open: (ws) => void (MODE === "read" && pump(ws)),
    drain: (ws) => void (MODE === "read" && pump(ws)),
    close: () => void (stop = true),
  },
});
let stop = false;
function pump(ws: import("bun").ServerWebSocket<unknown>) {
  while (!stop && ws.readyState === 1) if (ws.send(MESSAGE) === -1) return;
}
const a = await cpuPerRoundTrip(`ws://127.0.0.1:${raw.port}/`);
raw.stop(true);
const { httpUrl } = await serve.start({ http: { port: 0 } });
await serve.run(MODE === "read" ? wsSourceApp : wsEchoApp);
const b = await cpuPerRoundTrip(httpUrl.replace(/^http/, "ws") + "/");
await serve.shutdown();
console.log(`cpu us/${MODE === "read" ? "message" : "round trip"}: raw=${a.us.toFixed(2)} tsserve=${b.us.toFixed(2)}; per second raw ${a.perS.toFixed(0)} tsserve ${b.perS.toFixed(0)} (x${(b.perS / a.perS).toFixed(2)})`);
process.exit(0);
