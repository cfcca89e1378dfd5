// Dev aid: the proxy, an ingress replica and its downstream replica in one thread (no Worker,
// no socket): JS cost per HTTP request through two hops, for `bun --cpu-prof`.
import { Proxy } from "../../runtime/proxy/proxy.ts";
import { client, connect, replica } from "./inproc.ts";
import { makeHandle } from "../../sdk/handle.ts";
import { installRuntime } from "../../sdk/runtime.ts";

const main = client("main");
const inner = client("ingress");
installRuntime({ call: (t: any, o: any, m: string, a: unknown[]) => inner.call(t, o, m, a) } as any);
const downHandle = makeHandle({ appName: "app", deploymentName: "Down" });
connect(inner, "ingress", replica("down", "Down", { call: () => "hello" }, inner), "down", "Down");
connect(main, "main", replica("ing", "Ingress", { call: async () => await downHandle.remote() }, inner), "ing", "Ingress");
const proxy = new Proxy(main, { maxBodyBytes: 1e8, requestTimeoutMs: null }, () => "ok");
proxy.routes.set([{ prefix: "/", appName: "app", deploymentName: "Ingress" }]);
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
