// Dev aid: the proxy and a replica in one thread (no Worker, no socket): JS cost per HTTP request.
import { Proxy } from "../../runtime/proxy/proxy.ts";
import { Client } from "../../runtime/router/client.ts";
import { Replica } from "../../runtime/replica/replica.ts";
import { BatchedPort } from "../../runtime/wire/port.ts";
// A real client and a real replica in this one thread, joined by a MessageChannel.
const client = new Client("main", { subscribe() {}, connect() {} });
const ch = new MessageChannel();
const spec: any = { name: "NoOp", kind: "class", options: { maxOngoingRequests: 100000 }, handles: [] };
const rep = new Replica("r1", "app", spec, { call() { return "hello"; } }, client);
const cp = { caller: "main", port: new BatchedPort<any, any>(ch.port2 as any) };
cp.port.listen((m) => rep.receive(cp as any, m));
client.addLink("r1", ch.port1 as any);
client.setReplicas("app/NoOp", ["r1"], { maxOngoingRequests: 100000, maxQueuedRequests: -1 });
const proxy = new Proxy(client, { maxBodyBytes: 1e8, requestTimeoutMs: null }, () => "ok");
proxy.routes.set([{ prefix: "/", appName: "app", ingress: "NoOp" }]);
client.router({ appName: "app", deploymentName: "NoOp" }, "proxy");
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
