// Dev aid: the proxy, an ingress replica and its downstream replica in one thread (no Worker,
// no socket): JS cost per HTTP request through two hops, for `bun --cpu-prof`.
import { Proxy } from "../../runtime/proxy/proxy.ts";
import { Client } from "../../runtime/router/client.ts";
import { Replica } from "../../runtime/replica/replica.ts";
import { BatchedPort } from "../../runtime/wire/port.ts";
import { makeHandle } from "../../sdk/handle.ts";
import { installRuntime } from "../../sdk/runtime.ts";

const limits = { maxOngoingRequests: 100000, maxQueuedRequests: -1 };
const spec = (name: string): any => ({ name, kind: "class", options: limits, handles: [] });
/** Joins `client` to `replica` (named `id`) by a MessageChannel. */
function connect(client: Client, caller: string, id: string, replica: Replica): void {
  const ch = new MessageChannel();
  const cp = { caller, port: new BatchedPort<any, any>(ch.port2 as any) };
  cp.port.listen((m) => replica.receive(cp as any, m));
  client.addLink(id, ch.port1 as any);
}
const main = new Client("main", { subscribe() {}, connect() {} });
const inner = new Client("ingress", { subscribe() {}, connect() {} });
installRuntime({ call: (t: any, o: any, m: string, a: unknown[]) => inner.call(t, o, m, a) } as any);
const down = new Replica("down", "app", spec("Down"), { call() { return "hello"; } }, inner);
const downHandle = makeHandle({ appName: "app", deploymentName: "Down" });
const ingress = new Replica("ing", "app", spec("Ingress"), { async call() { return await downHandle.remote(); } }, inner);
connect(inner, "ingress", "down", down);
inner.setReplicas("app/Down", ["down"], limits);
connect(main, "main", "ing", ingress);
main.setReplicas("app/Ingress", ["ing"], limits);
const proxy = new Proxy(main, { maxBodyBytes: 1e8, requestTimeoutMs: null }, () => "ok");
proxy.routes.set([{ prefix: "/", appName: "app", ingress: "Ingress" }]);
main.router({ appName: "app", deploymentName: "Ingress" }, "proxy");
const N = 50000;
const req = () => new Request("http://127.0.0.1:1234/", { headers: { "user-agent": "wrk", accept: "*/*" } });
for (let round = 0; round < 3; round++) {
  const t = performance.now();
  for (let i = 0; i < N; i += 64) {
    await Promise.all(Array.from({ length: 64 }, async () => { const r = await proxy.handle(req()); if ((await r.text()) !== "hello") throw new Error("bad answer"); }));
  }
  console.log("proxy -> ingress -> downstream in one thread", ((performance.now() - t) * 1000 / N).toFixed(2), "us/request");
}
process.exit(0);
