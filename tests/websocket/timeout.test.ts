// Until the ingress answers it, an upgrade is a request: http.requestTimeoutMs gives it a 408.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { serve } from "tsserve";
import { startServe, type Served } from "../harness.ts";
import { deployed } from "../fixtures/scope.ts";
import { SlowUpgrade } from "../fixtures/websockets.ts";
import { openSocket, wsUrl } from "./client.ts";

let served: Served;
beforeAll(async () => {
  served = await startServe({ requestTimeoutMs: 300 });
});
afterAll(() => served[Symbol.asyncDispose]());

const upgradeHeaders = { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" };

test("an upgrade the ingress answers too late gets 408; a prompt one opens", async () => {
  await using _ = await deployed(SlowUpgrade.bind(), { name: "wt-slow", routePrefix: "/up" });
  const res = await fetch(served.url + "/up/slow?ms=2000", { headers: { ...upgradeHeaders, "x-request-id": "late-1" } });
  expect(res.status).toBe(408);
  expect(await res.text()).toBe("Request late-1 timed out after 0.3s.");
  await using s = await openSocket(wsUrl(served.url, "/up/slow?ms=0"));
  s.send("hi");
  expect(await s.next()).toBe("got hi");
  expect((await serve.status()).applications["wt-slow"]!.numOngoingWebsockets).toBe(1);
});

test("an upgrade queued behind a full replica times out, leaves the queue, and frees nothing it did not hold", async () => {
  await using _ = await deployed(SlowUpgrade.options({ maxOngoingRequests: 1 }).bind(), { name: "wt-queued", routePrefix: "/q" });
  // The one slot is held by an upgrade that is slow to answer; the second waits in the queue.
  const first = fetch(served.url + "/q/slow?ms=250", { headers: upgradeHeaders });
  const second = await fetch(served.url + "/q/slow?ms=0", { headers: upgradeHeaders });
  expect(second.status).toBe(408);
  await first.catch(() => undefined);
  await using s = await openSocket(wsUrl(served.url, "/q/slow?ms=0"));
  s.send("after");
  expect(await s.next()).toBe("got after");
});
