// Dev aid: the proxy and a replica in one thread (no Worker, no socket): JS cost per HTTP request.
import { client, connect, replica } from "./inproc.ts";
import { Proxy } from "../../runtime/proxy/proxy.ts";
const main = client("main");
connect(main, "main", replica("r1", "NoOp", { call: () => "hello" }, main), "r1", "NoOp");
const proxy = new Proxy(main, { maxBodyBytes: 1e8, requestTimeoutMs: null }, () => "ok");
proxy.routes.set([{ prefix: "/", appName: "app", deploymentName: "NoOp" }]);
main.router({ appName: "app", deploymentName: "NoOp" }, "proxy");
const N = 50000;
const req = () => new Request("http://127.0.0.1:1234/", { headers: { "user-agent": "wrk", accept: "*/*" } });
for (let round = 0; round < 2; round++) {
  const t = performance.now();
  for (let i = 0; i < N; i += 64) {
    await Promise.all(Array.from({ length: 64 }, async () => { const r = await proxy.handle(req()); await r.text(); }));
  }
  console.log("proxy+replica in one thread", ((performance.now() - t) * 1000 / N).toFixed(2), "us/request");
}
const t = performance.now();
for (let i = 0; i < N; i += 64) await Promise.all(Array.from({ length: 64 }, async () => { const r = new Response("hello"); req(); await r.text(); }));
console.log("baseline Request+Response", ((performance.now() - t) * 1000 / N).toFixed(2), "us/request");
process.exit(0);
