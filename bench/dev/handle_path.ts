// Dev aid: a handle and a replica in one thread: JS cost per call with 256 in flight.
import { client, connect, replica } from "./inproc.ts";
import { DeploymentResponse } from "../../sdk/response.ts";
const main = client("main");
connect(main, "main", replica("r1", "NoOp", { call: () => "hello" }, main), "r1", "NoOp");
const target = { appName: "app", deploymentName: "NoOp" };
main.router(target);
const N = 200000;
for (let round = 0; round < 3; round++) {
  const t = performance.now();
  for (let i = 0; i < N; i += 256) {
    await Promise.all(Array.from({ length: 256 }, () => new DeploymentResponse(main.call(target, {}, "call", []))));
  }
  console.log("handle call, same thread, 256 in flight", ((performance.now() - t) * 1000 / N).toFixed(2), "us/call");
}
process.exit(0);
