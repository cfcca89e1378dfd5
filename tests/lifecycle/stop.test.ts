// Graceful stop: scale-down, delete and shutdown finish what is in flight (up to
// gracefulShutdownTimeoutMs), take nothing new, and dispose each instance exactly once.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { serve } from "tsserve";
import { eventually, startServe, type Served } from "../harness.ts";
import { Back, Draining, Front } from "../fixtures/lifecycle2.ts";

let s: Served;
beforeAll(async () => {
  s = await startServe();
});
afterAll(() => s[Symbol.asyncDispose]());

const STARTED = 0;
const DISPOSED = 1;
const count = (flags: SharedArrayBuffer, slot: number) => Atomics.load(new Int32Array(flags), slot);
const errorOf = (p: PromiseLike<unknown>) => Promise.resolve(p).then(() => undefined, (e: Error) => e);
const replicasOf = async (app: string, dep: string) => (await serve.status()).applications[app]!.deployments[dep]!.replicas;

/** Sequential calls from `loops` callers until `stop()`; counts answers and keeps failures. */
function load(loops: number, call: (i: number) => Promise<unknown>) {
  const state = { ok: 0, failures: [] as unknown[], stopped: false };
  const running = Array.from({ length: loops }, async (_, loop) => {
    for (let i = 0; !state.stopped; i++) {
      try {
        await call(loop * 1_000_000 + i);
        state.ok++;
      } catch (err) {
        state.failures.push(err);
      }
    }
  });
  return {
    state,
    async stop() {
      state.stopped = true;
      await Promise.all(running);
    },
  };
}

describe("graceful stop", () => {
  test("a replica scaled down finishes its request, takes no new ones, and is disposed once", async () => {
    const flags = new SharedArrayBuffer(12);
    const h = await serve.run(Draining.bind(flags), { name: "down", routePrefix: null });
    // One request at a time per replica: the two slow calls run on different replicas.
    const slow = [h.slow.remote(600), h.slow.remote(600)];
    await eventually(() => count(flags, STARTED) === 2);
    const redeploy = serve.run(Draining.options({ numReplicas: 1 }).bind(flags), { name: "down", routePrefix: null });
    await eventually(async () => (await replicasOf("down", "Draining")).some((r) => r.state === "STOPPING"));
    const survivor = (await replicasOf("down", "Draining")).find((r) => r.state === "RUNNING")!.replicaId;
    const after = await Promise.all([h.whoAmI.remote(), h.whoAmI.remote(), h.whoAmI.remote()]);
    expect(after).toEqual([survivor, survivor, survivor]);
    await redeploy;
    const served = await Promise.all(slow);
    expect(new Set(served).size).toBe(2);
    expect(served).toContain(survivor);
    expect(count(flags, DISPOSED)).toBe(1);
    expect((await replicasOf("down", "Draining")).map((r) => r.replicaId)).toEqual([survivor]);
    await serve.delete("down");
    expect(count(flags, DISPOSED)).toBe(2);
  });

  test("delete drains the request in flight, refuses new calls, and disposes once even when asked twice", async () => {
    const flags = new SharedArrayBuffer(12);
    const h = await serve.run(Draining.options({ numReplicas: 1 }).bind(flags), { name: "del", routePrefix: null });
    const slow = h.slow.remote(400);
    await eventually(() => count(flags, STARTED) === 1);
    const deletes = [serve.delete("del"), serve.delete("del")];
    const refused = await errorOf(h.whoAmI.remote());
    expect(refused?.name).toBe("DeploymentUnavailableError");
    expect(count(flags, 2)).toBe(0); // refused before the slow call finished
    expect(typeof (await slow)).toBe("string");
    await Promise.all(deletes);
    expect(count(flags, DISPOSED)).toBe(1);
    expect((await serve.status()).applications.del).toBeUndefined();
  });

  test("a request still running after gracefulShutdownTimeoutMs fails with ReplicaDiedError", async () => {
    const flags = new SharedArrayBuffer(12);
    const h = await serve.run(Draining.options({ numReplicas: 1, gracefulShutdownTimeoutMs: 200 }).bind(flags), { name: "cut", routePrefix: null });
    const slow = h.slow.remote(10_000);
    await eventually(() => count(flags, STARTED) === 1);
    const t0 = performance.now();
    await serve.delete("cut");
    const err = await errorOf(slow);
    expect(err?.name).toBe("ReplicaDiedError");
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(count(flags, DISPOSED)).toBe(1);
  });

  test("numReplicas 3 -> 1 by redeploy under load: no request fails", async () => {
    const flags = new SharedArrayBuffer(4);
    const app = (n: number) => Front.bind(Back.options({ numReplicas: n }).bind(), flags);
    const h = await serve.run(app(3), { name: "scale", routePrefix: "/scale" });
    expect((await replicasOf("scale", "Back")).length).toBe(3);
    const viaHandle = load(8, async (i) => {
      if ((await h.remote(i)) !== i) throw new Error(`wrong answer for ${i}`);
    });
    const viaHttp = load(8, async (i) => {
      const res = await fetch(`${s.url}/scale?x=${i}`);
      const body = await res.text();
      if (res.status !== 200 || body !== `x=${i}`) throw new Error(`HTTP ${res.status}: ${body}`);
    });
    await eventually(() => viaHandle.state.ok > 100 && viaHttp.state.ok > 100, 10_000);
    await serve.run(app(1), { name: "scale", routePrefix: "/scale" });
    const [a, b] = [viaHandle.state.ok, viaHttp.state.ok];
    await eventually(() => viaHandle.state.ok > a + 100 && viaHttp.state.ok > b + 100, 10_000);
    await Promise.all([viaHandle.stop(), viaHttp.stop()]);
    expect(viaHandle.state.failures).toEqual([]);
    expect(viaHttp.state.failures).toEqual([]);
    const back = (await serve.status()).applications.scale!.deployments.Back!;
    expect(back.replicaStates).toEqual({ RUNNING: 1 });
    await serve.delete("scale");
  });

  test("serve.shutdown() under load loses no completed response", async () => {
    const flags = new SharedArrayBuffer(4);
    await serve.run(Front.bind(Back.bind(), flags), { name: "shut", routePrefix: "/shut" });
    const statuses = new Map<string, number>();
    const wrong: string[] = [];
    const url = s.url;
    const traffic = load(16, async (i) => {
      let res: Response;
      try {
        res = await fetch(`${url}/shut?x=${i}`);
      } catch {
        statuses.set("refused", (statuses.get("refused") ?? 0) + 1);
        return;
      }
      const body = await res.text();
      statuses.set(String(res.status), (statuses.get(String(res.status)) ?? 0) + 1);
      if (res.status === 200 && body !== `x=${i}`) wrong.push(body);
      if (res.status === 500) wrong.push(body);
    });
    await eventually(() => (statuses.get("200") ?? 0) > 200, 10_000);
    await serve.shutdown();
    await traffic.stop();
    expect(traffic.state.failures).toEqual([]);
    expect(wrong).toEqual([]);
    // Every request the ingress completed reached its client.
    expect(statuses.get("200")).toBe(count(flags, 0));
    s = await startServe();
  });
});
