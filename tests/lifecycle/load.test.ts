import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { serve } from "tsserve";
import { eventually, startServe, type Served, sleep } from "../harness.ts";
import { loadFlags, sleeperApp, stuckApp, waiterApp } from "../fixtures/load.ts";

let s: Served;
const flags = new Int32Array(loadFlags);
beforeAll(async () => {
  s = await startServe({ requestTimeoutMs: 300 });
});
afterAll(() => s[Symbol.asyncDispose]());

describe("load, cancellation and timeouts", () => {
  test("beyond maxQueuedRequests a handle call fails with BackPressureError", async () => {
    const h = await serve.run(sleeperApp, { name: "bp", routePrefix: null });
    const running = h.sleep.remote(200);
    const queued = h.sleep.remote(1);
    const err = (await h.sleep.remote(1).catch((e: Error) => e)) as Error;
    expect(err.name).toBe("BackPressureError");
    expect(err.message).toBe("Request dropped due to backpressure (num_queued_requests=1, max_queued_requests=1).");
    expect(await running).toBe("slept");
    expect(await queued).toBe("slept");
    await serve.delete("bp");
  });

  test("cancel() of a queued call: it never reaches the replica", async () => {
    const h = await serve.run(sleeperApp, { name: "cq", routePrefix: null });
    const started = Atomics.load(flags, 0);
    const running = h.sleep.remote(100);
    const queued = h.sleep.remote(1);
    queued.cancel();
    expect(((await queued.catch((e: Error) => e)) as Error).name).toBe("RequestCancelledError");
    await running;
    await sleep(20);
    expect(Atomics.load(flags, 0) - started).toBe(1);
    await serve.delete("cq");
  });

  test("cancel() of a running call fires its signal, and those of the calls it made", async () => {
    const h = await serve.run(waiterApp, { name: "cr", routePrefix: null });
    const before = [Atomics.load(flags, 1), Atomics.load(flags, 2)];
    const r = h.remote(5000);
    await eventually(() => Atomics.load(flags, 0) > 0 && Atomics.load(flags, 2) === before[1] && Atomics.load(flags, 0));
    await sleep(20);
    r.cancel();
    expect(((await r.catch((e: Error) => e)) as Error).name).toBe("RequestCancelledError");
    await eventually(() => Atomics.load(flags, 1) > before[0]! && Atomics.load(flags, 2) > before[1]!);
    await serve.delete("cr");
  });

  test("http.requestTimeoutMs answers 408 and cancels the request downstream", async () => {
    await serve.run(waiterApp, { name: "to", routePrefix: "/slow" });
    const before = Atomics.load(flags, 2);
    const res = await fetch(`${s.url}/slow?ms=5000`, { headers: { "x-request-id": "req-42" } });
    expect(res.status).toBe(408);
    expect(await res.text()).toBe("Request req-42 timed out after 0.3s.");
    await eventually(() => Atomics.load(flags, 2) > before);
    await serve.delete("to");
  });

  test("a full downstream queue answers HTTP 503 with the backpressure message", async () => {
    await serve.run(waiterApp, { name: "bph", routePrefix: "/bp" });
    // Sleeper takes one at a time and queues one: of three at once, one is dropped.
    const answers = await Promise.all(
      [0, 1, 2].map(() => fetch(`${s.url}/bp?ms=100`).then(async (r) => [r.status, await r.text()] as const)),
    );
    const dropped = answers.filter(([status]) => status === 503);
    expect(dropped.length).toBe(1);
    expect(dropped[0]![1]).toBe("Request dropped due to backpressure (num_queued_requests=1, max_queued_requests=1).");
    expect(answers.filter(([status, body]) => status === 200 && body === "slept").length).toBe(2);
    await serve.delete("bph");
  });

  test("a replica whose requests stall shows them in serve.status(): how many, and for how long", async () => {
    const h = await serve.run(stuckApp, { name: "stuck", routePrefix: null });
    const calls = [h.remote(), h.remote(), h.remote()];
    const replica = await eventually(async () => {
      const r = (await serve.status()).applications.stuck!.deployments.Stuck!.replicas[0]!;
      return r.ongoingRequests === 2 && r.oldestRequestMs! >= 50 ? r : undefined;
    });
    expect(replica!.state).toBe("RUNNING");
    for (const c of calls) c.cancel();
    await eventually(async () => (await serve.status()).applications.stuck!.deployments.Stuck!.replicas[0]!.ongoingRequests === 0);
    await serve.delete("stuck");
  });
});
