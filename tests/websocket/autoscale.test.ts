// WebSockets and autoscaling: an upgrade to a deployment at zero replicas starts one; an open
// socket is load, so the deployment stays up while it is open and goes to zero after.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { serve } from "tsserve";
import { eventually, sleep, startServe, type Served } from "../harness.ts";
import { deployed } from "../fixtures/scope.ts";
import { Forever } from "../fixtures/websockets.ts";
import { openSocket, wsUrl } from "./client.ts";

let served: Served;
beforeAll(async () => {
  served = await startServe();
});
afterAll(() => served[Symbol.asyncDispose]());

const toZero = Forever.options({
  autoscalingConfig: { minReplicas: 0, maxReplicas: 2, targetOngoingRequests: 1, upscaleDelayMs: 60_000, downscaleDelayMs: 200, downscaleToZeroDelayMs: 300, lookBackPeriodMs: 100 },
});
const replicas = async () => (await serve.status()).applications["wsa-zero"]!.deployments.Forever!.replicas.length;

test("a socket to a deployment at zero starts a replica, keeps it while open, and lets it go after", async () => {
  await using _ = await deployed(toZero.bind(), { name: "wsa-zero", routePrefix: "/zero" });
  expect(await replicas()).toBe(0);
  const s = await openSocket(wsUrl(served.url, "/zero"), {}, 10_000);
  const replica = await s.next(10_000);
  expect(replica).toStartWith("wsa-zero#Forever#");
  // A negative check: several downscale-to-zero delays pass with the socket idle but open.
  await sleep(1200);
  expect(await replicas()).toBe(1);
  s.send("still there");
  expect(await s.next()).toBe("still there");
  s.ws.close();
  await eventually(async () => (await replicas()) === 0, 10_000);
});
