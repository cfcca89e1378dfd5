import { expect, test } from "bun:test";
import { Router, type Routable } from "../../runtime/router/router.ts";
import { ReplicaLink } from "../../runtime/wire/link.ts";

/** A request that records where it went. */
function request(): Routable & { sentTo?: string; failed?: Error } {
  const r: Routable & { sentTo?: string; failed?: Error } = {
    modelId: "",
    dispatch(link) {
      r.sentTo = link.replicaId;
    },
    fail(err) {
      r.failed = err;
    },
  };
  return r;
}

const LIMITS = { maxOngoingRequests: 5, maxQueuedRequests: -1 };

test("a request that waits with no replica tells the router's owner once, until replicas come and go again", () => {
  const router = new Router("Model");
  let told = 0;
  router.onNoReplicas = () => told++;
  const a = request();
  const b = request();
  router.submit(a);
  router.submit(b);
  expect(told).toBe(1);
  expect(router.queued).toBe(2);

  const { port1, port2 } = new MessageChannel();
  try {
    router.update([new ReplicaLink("r1", port1)], LIMITS);
    expect([a.sentTo, b.sentTo]).toEqual(["r1", "r1"]);
    expect(told).toBe(1);

    // Scaled to zero again: the next waiting request tells again.
    router.update([], LIMITS);
    router.submit(request());
    expect(told).toBe(2);
  } finally {
    port1.close();
    port2.close();
  }
});

test("a request sent at once, or refused by a full queue, tells nothing", () => {
  const router = new Router("Model");
  let told = 0;
  router.onNoReplicas = () => told++;
  const { port1, port2 } = new MessageChannel();
  try {
    router.update([new ReplicaLink("r1", port1)], LIMITS);
    const a = request();
    router.submit(a);
    expect(a.sentTo).toBe("r1");
    router.update([], { maxOngoingRequests: 5, maxQueuedRequests: 0 });
    const b = request();
    router.submit(b);
    expect(b.failed?.name).toBe("BackPressureError");
    expect(told).toBe(0);
  } finally {
    port1.close();
    port2.close();
  }
});
