// Dev aid: a handle and a replica in one thread: JS cost per call with 256 in flight.
import { Client } from "../../runtime/router/client.ts";
import { Replica } from "../../runtime/replica/replica.ts";
import { BatchedPort } from "../../runtime/wire/port.ts";
import { DeploymentResponse } from "../../sdk/response.ts";
const client = new Client("main", { subscribe() {}, connect() {} });
const ch = new MessageChannel();
const spec: any = { name: "NoOp", kind: "class", options: { maxOngoingRequests: 100000 }, handles: [] };
const rep = new Replica("r1", "app", spec, { call() { return "hello"; } }, client);
const cp = { caller: "main", port: new BatchedPort<any, any>(ch.port2 as any) };
cp.port.listen((m) => rep.receive(cp as any, m));
client.addLink("r1", ch.port1 as any);
client.setReplicas("app/NoOp", ["r1"], { maxOngoingRequests: 100000, maxQueuedRequests: -1 });
const target = { appName: "app", deploymentName: "NoOp" };
client.router(target);
const N = 200000;
for (let round = 0; round < 3; round++) {
  const t = performance.now();
  for (let i = 0; i < N; i += 256) {
    await Promise.all(Array.from({ length: 256 }, () => new DeploymentResponse(client.call(target, {}, "call", []))));
  }
  console.log("handle call, same thread, 256 in flight", ((performance.now() - t) * 1000 / N).toFixed(2), "us/call");
}
process.exit(0);
