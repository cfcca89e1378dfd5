// While an app starts its requests wait and everything else keeps answering; health that fails
// after an app ran shows as UNHEALTHY and recovers; a failing first check fails the deploy.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { serve } from "tsserve";
import { eventually, startServe, type Served } from "../harness.ts";
import { NeverHealthy, Quick, SlowStart, Wobbly } from "../fixtures/lifecycle2.ts";

let s: Served;
beforeAll(async () => {
  s = await startServe();
});
afterAll(() => s[Symbol.asyncDispose]());

const text = async (path: string) => {
  const res = await fetch(s.url + path);
  return [res.status, await res.text()] as const;
};

describe("an app that is starting", () => {
  test("its requests wait and are served; /-/healthz, /-/routes and other apps keep answering", async () => {
    await serve.run(Quick.bind(), { name: "quick", routePrefix: "/quick" });
    const flags = new SharedArrayBuffer(4);
    const deploying = serve.run(SlowStart.bind(flags), { name: "slowstart", routePrefix: "/slowstart" });
    const waiting = text("/slowstart");
    const others = await Promise.all([text("/-/healthz"), text("/-/routes"), text("/quick")]);
    // All answered before the slow app's init finished.
    expect(Atomics.load(new Int32Array(flags), 0)).toBe(0);
    expect(others[0]).toEqual([200, "success"]);
    expect(others[1][0]).toBe(200);
    expect(JSON.parse(others[1][1])).toEqual({ "/quick": "quick", "/slowstart": "slowstart" });
    expect(others[2]).toEqual([200, "quick"]);
    expect(await waiting).toEqual([200, "started"]);
    await deploying;
    await serve.delete("slowstart");
    await serve.delete("quick");
  });
});

describe("health", () => {
  test("health that fails after the app ran shows UNHEALTHY for the app and deployment, then recovers", async () => {
    const flags = new SharedArrayBuffer(4);
    const h = await serve.run(Wobbly.bind(flags), { name: "wobbly", routePrefix: null });
    const state = async () => {
      const app = (await serve.status()).applications.wobbly!;
      return [app.status, app.deployments.Wobbly!.status];
    };
    expect(await state()).toEqual(["RUNNING", "HEALTHY"]);
    Atomics.store(new Int32Array(flags), 0, 1);
    await eventually(async () => (await state()).join() === "UNHEALTHY,UNHEALTHY", 5000, 10);
    expect((await serve.status()).applications.wobbly!.deployments.Wobbly!.message).toContain("wobbly on purpose");
    Atomics.store(new Int32Array(flags), 0, 0);
    await eventually(async () => (await state()).join() === "RUNNING,HEALTHY", 10_000);
    expect(await h.remote()).toBe("ok");
    await serve.delete("wobbly");
  });

  test("a replica failing its checks with a request in flight: UNHEALTHY at once, the request still finishes", async () => {
    const flags = new SharedArrayBuffer(8);
    const h = await serve.run(Wobbly.options({ gracefulShutdownTimeoutMs: 5000 }).bind(flags), { name: "busy", routePrefix: null });
    const slow = h.hang.remote(2500);
    await eventually(() => Atomics.load(new Int32Array(flags), 1) === 1);
    const t0 = performance.now();
    Atomics.store(new Int32Array(flags), 0, 1);
    await eventually(async () => (await serve.status()).applications.busy!.status === "UNHEALTHY", 5000, 10);
    expect(performance.now() - t0).toBeLessThan(2000); // before the hang ends
    Atomics.store(new Int32Array(flags), 0, 0);
    expect(await slow).toBe("finished");
    await eventually(async () => (await serve.status()).applications.busy!.status === "RUNNING", 10_000);
    expect(await h.remote()).toBe("ok");
    await serve.delete("busy");
  });

  test("a replica whose first health check fails never takes traffic: the deploy fails with the check's error", async () => {
    const err = (await serve.run(NeverHealthy.bind(), { name: "never", routePrefix: null }).catch((e: Error) => e)) as Error;
    expect(err.message).toContain("not ready, never will be");
    const app = (await serve.status()).applications.never!;
    expect(app.status).toBe("DEPLOY_FAILED");
    expect(app.deployments.NeverHealthy!.status).toBe("DEPLOY_FAILED");
    await serve.delete("never");
  });
});
