// Dev aid: the replica alone, fed call messages directly: JS cost per call (HTTP and unary).
import { Replica } from "../../runtime/replica/replica.ts";
import { BatchedPort } from "../../runtime/wire/port.ts";
import { K } from "../../runtime/wire/protocol.ts";
const spec: any = { name: "NoOp", kind: "class", options: { maxOngoingRequests: 100000 }, handles: [] };
const inst = { call() { return "hello"; } };
const ch = new MessageChannel();
let answered = 0; let done: () => void = () => {};
const N = Number(process.argv[2] ?? 50000);
ch.port2.onmessage = (e) => { const b = typeof e.data === "string" ? JSON.parse(e.data) : e.data; answered += b.length; if (answered >= N) done(); };
const port = new BatchedPort<any, any>(ch.port1 as any);
const rep = new Replica("r1", "app", spec, inst, {} as any);
const cp = { caller: "main", port };
const headers = "host\n127.0.0.1:1234\nuser-agent\nwrk\naccept\n*/*";
for (const http of [true, false]) {
  answered = 0;
  const p = new Promise<void>((r) => (done = r));
  const t = performance.now();
  for (let i = 0; i < N; i++) {
    rep.receive(cp as any, http
      ? { k: K.Call, id: i, method: "", args: [{ method: "GET", url: "http://127.0.0.1:1234/", headers, body: null }], ctx: { requestId: "x" + i, modelId: "", route: "/" }, http: true }
      : { k: K.Call, id: i, method: "call", args: [], ctx: { requestId: "x" + i, modelId: "", route: "" } });
    if (i % 64 === 63) await new Promise((r) => setImmediate(r));
  }
  await p;
  console.log(http ? "http " : "unary", ((performance.now() - t) * 1000 / N).toFixed(2), "us/call");
}
process.exit(0);
