// Scale to zero and back: with minReplicas 0 an idle deployment has no replica; a request to
// it (over a handle, over HTTP, or from another replica) waits in its caller's queue, a replica
// starts at once, and the request is served, in under a second.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { serve, type AutoscalingConfig, type DeploymentStatusInfo } from "tsserve";
import { eventually, startServe, type Served } from "../harness.ts";
import { deployed } from "../fixtures/scope.ts";
import { Front, Sleepy } from "../fixtures/autoscale.ts";

let s: Served;
beforeAll(async () => {
  s = await startServe();
});
afterAll(() => s[Symbol.asyncDispose]());

const toZero: AutoscalingConfig = {
  minReplicas: 0,
  maxReplicas: 2,
  targetOngoingRequests: 1,
  upscaleDelayMs: 60_000,
  downscaleDelayMs: 200,
  downscaleToZeroDelayMs: 300,
  lookBackPeriodMs: 100,
};
const idle = Sleepy.options({ autoscalingConfig: toZero });

async function deployment(app: string, name = "Sleepy"): Promise<DeploymentStatusInfo> {
  return (await serve.status()).applications[app]!.deployments[name]!;
}

/** The deployment's status once it has no replica and wants none (bounded). */
const atZero = async (app: string): Promise<DeploymentStatusInfo> =>
  (await eventually(async () => {
    const d = await deployment(app);
    return d.replicas.length === 0 && d.targetReplicas === 0 && d;
  }, 5000)) as DeploymentStatusInfo;

/** Milliseconds `f` takes. */
async function timed<T>(f: () => PromiseLike<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const v = await f();
  return [v, performance.now() - t0];
}

describe("scale to zero", () => {
  test("with minReplicas 0 the deployment starts with no replica and serve.run resolves", async () => {
    await using _ = await deployed(idle.bind(), { name: "z-empty" });
    const d = await deployment("z-empty");
    expect(d).toMatchObject({ status: "HEALTHY", targetReplicas: 0, currentReplicas: 0, replicaStates: {}, replicas: [] });
    expect((await serve.status()).applications["z-empty"]!.status).toBe("RUNNING");
  });

  test("a handle call to an idle deployment is held, a replica starts, the answer comes in under 1 s", async () => {
    await using app = await deployed(idle.bind(), { name: "z-handle" });
    const [replica, ms] = await timed(() => app.handle.remote(0));
    expect(replica).toStartWith("z-handle#Sleepy#");
    expect(ms).toBeLessThan(1000);
    const d = await deployment("z-handle");
    expect(d.autoscaling!.lastDecision).toMatchObject({ from: 0, to: 1, reason: "requests arrived with no replicas" });
    expect(d.targetReplicas).toBeGreaterThanOrEqual(1);
  });

  test("idle again, it goes back to zero after downscaleToZeroDelayMs; the next requests scale it up again, none dropped", async () => {
    await using app = await deployed(idle.bind(), { name: "z-again" });
    await app.handle.remote(0);
    const zero = await atZero("z-again");
    expect(zero.autoscaling!.lastDecision).toMatchObject({ from: 1, to: 0 });
    expect(zero.currentReplicas).toBe(0);
    // Eight at once, all while there is no replica: every one is held and answered.
    const [answers, ms] = await timed(() => Promise.all(Array.from({ length: 8 }, () => app.handle.remote(10))));
    expect(answers.length).toBe(8);
    for (const a of answers) expect(a).toStartWith("z-again#Sleepy#");
    expect(ms).toBeLessThan(1000);
  });

  test("over HTTP: the proxy holds the request while the first replica starts", async () => {
    await using _ = await deployed(idle.bind(), { name: "z-http", routePrefix: "/z" });
    await atZero("z-http");
    const [res, ms] = await timed(() => fetch(`${s.url}/z?ms=0`));
    expect(res.status).toBe(200);
    expect(await res.text()).toStartWith("z-http#Sleepy#");
    expect(ms).toBeLessThan(1000);
  });

  test("from another replica: its handle holds the call, and the controller still sees the demand", async () => {
    await using app = await deployed(Front.bind(idle.bind()), { name: "z-chain" });
    await atZero("z-chain");
    const [replica, ms] = await timed(() => app.handle.remote(0));
    expect(replica).toStartWith("z-chain#Sleepy#");
    expect(ms).toBeLessThan(1000);
    // And back to zero once idle: the front's replica is left alone.
    await atZero("z-chain");
    expect((await deployment("z-chain", "Front")).replicaStates).toEqual({ RUNNING: 1 });
  });
});
