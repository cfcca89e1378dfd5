import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { serve } from "tsserve";
import { eventually, startServe, type Served } from "../harness.ts";
import { brokenApp, brokenInitApp, Configurable, configurableApp, crashyApp, flakyApp, flakyFlags } from "../fixtures/faults.ts";

let s: Served;
beforeAll(async () => {
  s = await startServe();
});
afterAll(() => s[Symbol.asyncDispose]());

describe("faults", () => {
  test("a replica that dies fails its in-flight requests with ReplicaDiedError and is replaced", async () => {
    const h = await serve.run(crashyApp, { name: "crashy", routePrefix: "/crashy" });
    const ids = new Set<string>();
    for (let i = 0; i < 20 && ids.size < 2; i++) ids.add(await h.whoAmI.remote());
    expect(ids.size).toBe(2);
    const err = (await h.crash.remote().catch((e: Error) => e)) as Error;
    expect(err.name).toBe("ReplicaDiedError");
    // Others keep answering, and a replacement comes up.
    await eventually(async () => (await serve.status()).applications.crashy!.deployments.Crashy!.replicaStates.RUNNING === 2, 10_000);
    const after = new Set<string>();
    for (let i = 0; i < 40 && after.size < 2; i++) after.add(await h.whoAmI.remote());
    expect(after.size).toBe(2);
  });

  test("a constructor that throws fails the deploy with its error; HTTP gets 503", async () => {
    const err = await serve.run(brokenApp, { name: "broken", routePrefix: "/broken" }).catch((e) => e);
    expect(err.message).toContain("cannot load weights");
    const st = await serve.status();
    expect(st.applications.broken!.status).toBe("DEPLOY_FAILED");
    expect(st.applications.broken!.deployments.BrokenConstructor!.status).toBe("DEPLOY_FAILED");
    expect(st.applications.broken!.deployments.BrokenConstructor!.message).toContain("cannot load weights");
    const res = await fetch(`${s.url}/broken`);
    expect(res.status).toBe(503);
    expect(await res.text()).toContain("unavailable because it failed to deploy");
  });

  test("an init() that throws fails the deploy too", async () => {
    const err = await serve.run(brokenInitApp, { name: "brokeninit", routePrefix: null }).catch((e) => e);
    expect(err.message).toContain("init failed on purpose");
  });

  test("3 failed health checks in a row replace the replica", async () => {
    const h = await serve.run(flakyApp, { name: "flaky", routePrefix: null });
    const first = await h.remote();
    Atomics.store(new Int32Array(flakyFlags), 0, 1);
    await eventually(async () => (await serve.status()).applications.flaky!.deployments.Flaky!.status === "UNHEALTHY", 5000, 10);
    Atomics.store(new Int32Array(flakyFlags), 0, 0);
    await eventually(async () => (await h.remote()) !== first, 10_000);
  });

  test("userConfig runs reconfigure after construction, and again in place on redeploy", async () => {
    const h = await serve.run(configurableApp, { name: "conf", routePrefix: null });
    expect(await h.remote(5)).toBe(10);
    await serve.run(Configurable.options({ userConfig: { factor: 3 } }).bind(), { name: "conf", routePrefix: null });
    expect(await h.remote(5)).toBe(15);
  });
});
