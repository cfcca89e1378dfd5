// Application lifecycle: run, delete, status, handles by name, contexts, init and dispose.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { serve, ServeError } from "tsserve";
import { startServe, type Served, thrown } from "../harness.ts";
import { deployed } from "../fixtures/scope.ts";
import { Contexts, Disposable, RequestIdIngress, RequestIdOf, SlowInit } from "../fixtures/lifecycle.ts";
import { app as chainApp } from "../../examples/chain.ts";

let served: Served;
beforeAll(async () => {
  served = await startServe();
});
afterAll(async () => {
  await served[Symbol.asyncDispose]();
});

test("serve.run resolves to the ingress's handle", async () => {
  await using app = await deployed(chainApp, { name: "l-run" });
  expect(app.handle.deploymentName).toBe("Ingress");
  expect(app.handle.appName).toBe("l-run");
  expect(await app.handle.remote(5)).toBe(12);
});

test("code after a top-level await serve.run() runs once, in the caller, never in replicas", async () => {
  const mod = await import("../fixtures/toplevel_run.ts");
  try {
    expect(mod.afterRunCount).toBe(1);
    expect(await mod.handle.remote()).toBe(false);
  } finally {
    await serve.delete("toplevel");
  }
});

test("serve.delete removes the app and is idempotent", async () => {
  await serve.run(Contexts.bind(), { name: "l-delete", routePrefix: null });
  await serve.delete("l-delete");
  expect((await serve.status()).applications["l-delete"]).toBeUndefined();
  await serve.delete("l-delete");
  await serve.delete("never-existed");
});

test("a handle to a deleted app rejects with DeploymentUnavailableError", async () => {
  const handle = await serve.run(Contexts.bind(), { name: "l-deleted-handle", routePrefix: null });
  await serve.delete("l-deleted-handle");
  let err: Error | undefined;
  try {
    await handle.remote();
  } catch (e) {
    err = e as Error;
  }
  expect(err?.name).toBe("DeploymentUnavailableError");
});

test("getAppHandle returns a handle to a running app's ingress", async () => {
  await using _ = await deployed(chainApp, { name: "l-app-handle" });
  const handle = serve.getAppHandle("l-app-handle");
  expect(handle.deploymentName).toBe("Ingress");
  expect(await handle.remote(1)).toBe(4);
});

test("getAppHandle throws naming the missing app", () => {
  const err = thrown(() => serve.getAppHandle("no-such-app"));
  expect(err).toBeInstanceOf(ServeError);
  expect(err.message).toContain('"no-such-app"');
});

test("getDeploymentHandle throws naming the missing deployment and the app's deployments", async () => {
  await using _ = await deployed(chainApp, { name: "l-dep-handle" });
  const err = thrown(() => serve.getDeploymentHandle("Divider", "l-dep-handle"));
  expect(err).toBeInstanceOf(ServeError);
  expect(err.message).toContain('"Divider"');
  expect(err.message).toContain("Adder");
  expect(await serve.getDeploymentHandle("Adder", "l-dep-handle").remote(1)).toBe(2);
});

test("getDeploymentHandle throws naming the missing app", () => {
  const err = thrown(() => serve.getDeploymentHandle("Adder", "no-such-app"));
  expect(err.message).toContain('"no-such-app"');
});

test("serve.status() shows the proxy, apps, deployments and replica states with Ray's enums", async () => {
  await using _ = await deployed(chainApp, { name: "l-status", routePrefix: "/l-status" });
  const status = await serve.status();
  expect(status.proxy).toEqual({ url: served.url, status: "HEALTHY" });
  const app = status.applications["l-status"]!;
  expect(app).toMatchObject({ status: "RUNNING", message: "", routePrefix: "/l-status" });
  expect(Object.keys(app.deployments).sort()).toEqual(["Adder", "Ingress", "Multiplier"]);
  for (const d of Object.values(app.deployments)) {
    expect(d).toMatchObject({ status: "HEALTHY", message: "", replicaStates: { RUNNING: 1 } });
    expect(Object.keys(d.replicaStates)).toEqual(["RUNNING"]);
  }
});

test("serve.status() names only Ray's enum values", async () => {
  await using _ = await deployed(chainApp, { name: "l-status-enums", routePrefix: null });
  const appStates = ["NOT_STARTED", "DEPLOYING", "DEPLOY_FAILED", "RUNNING", "UNHEALTHY", "DELETING"];
  const deploymentStates = ["UPDATING", "HEALTHY", "UNHEALTHY", "DEPLOY_FAILED", "UPSCALING", "DOWNSCALING"];
  const replicaStates = ["STARTING", "UPDATING", "RECOVERING", "RUNNING", "STOPPING"];
  const status = await serve.status();
  expect(["HEALTHY", "UNHEALTHY", "NOT_STARTED"]).toContain(status.proxy.status);
  for (const app of Object.values(status.applications)) {
    expect(appStates).toContain(app.status);
    for (const d of Object.values(app.deployments)) {
      expect(deploymentStates).toContain(d.status);
      for (const state of Object.keys(d.replicaStates)) expect(replicaStates).toContain(state);
    }
  }
  expect(status.applications["l-status-enums"]!.routePrefix).toBeNull();
});

test("serve.start after serve.shutdown starts afresh", async () => {
  await using _ = await deployed(chainApp, { name: "l-restart", routePrefix: "/restart" });
  await serve.shutdown();
  expect(await serve.status()).toEqual({ proxy: { url: null, status: "NOT_STARTED" }, applications: {} });
  const { httpUrl } = await serve.start({ http: { host: "127.0.0.1", port: 0 } });
  served.url = httpUrl;
  expect((await serve.status()).applications).toEqual({});
  expect(await (await fetch(`${httpUrl}/-/routes`)).json()).toEqual({});
  const handle = await serve.run(chainApp, { name: "l-restart-2", routePrefix: null });
  expect(await handle.remote(5)).toBe(12);
  await serve.delete("l-restart-2");
});

test("getReplicaContext works inside a replica, in the constructor and in requests", async () => {
  await using app = await deployed(Contexts.bind(), { name: "l-replica-ctx" });
  const { replica, constructedIn } = await app.handle.remote();
  expect(replica.appName).toBe("l-replica-ctx");
  expect(replica.deploymentName).toBe("Contexts");
  expect(typeof replica.replicaId).toBe("string");
  expect(replica.replicaId.length).toBeGreaterThan(0);
  expect(constructedIn).toEqual(replica);
});

test("getReplicaContext throws outside a replica", () => {
  const err = thrown(() => serve.getReplicaContext());
  expect(err).toBeInstanceOf(ServeError);
  expect(err.message).toContain("only available inside a replica");
});

test("getRequestContext in a handle call names the app, deployment and replica", async () => {
  await using app = await deployed(Contexts.bind(), { name: "l-request-ctx" });
  const { replica } = await app.handle.remote();
  const ctx = await app.handle.request.remote();
  expect(ctx.requestId.length).toBeGreaterThan(0);
  expect(ctx).toMatchObject({ appName: "l-request-ctx", deploymentName: "Contexts", replicaId: replica.replicaId, route: "", multiplexedModelId: "", aborted: false });
});

test("getRequestContext().requestId is the x-request-id the HTTP client sent", async () => {
  await using _ = await deployed(Contexts.bind(), { name: "l-request-id", routePrefix: "/reqid" });
  const res = await fetch(`${served.url}/reqid`, { headers: { "x-request-id": "my-request-42" } });
  expect(await res.text()).toBe("my-request-42");
  expect(res.headers.get("x-request-id")).toBe("my-request-42");
});

test("an HTTP request's id and route reach the ingress, and the id its downstream calls", async () => {
  await using _ = await deployed(RequestIdIngress.bind(RequestIdOf.bind()), { name: "l-request-id-down", routePrefix: "/reqid-down" });
  const res = await fetch(`${served.url}/reqid-down/x`, { headers: { "x-request-id": "down-7" } });
  expect(await res.json()).toEqual({ requestId: "down-7", route: "/reqid-down", downstream: "down-7" });
});

test("async init() finishes before the replica takes traffic", async () => {
  await using app = await deployed(SlowInit.bind(), { name: "l-init" });
  expect(await app.handle.remote()).toEqual({ ready: true, initCalls: 1 });
});

test("[Symbol.asyncDispose] runs when the app is deleted", async () => {
  const flag = new SharedArrayBuffer(4);
  const handle = await serve.run(Disposable.bind(flag), { name: "l-dispose", routePrefix: null });
  expect(await handle.remote()).toBe("alive");
  expect(new Int32Array(flag)[0]).toBe(0);
  await serve.delete("l-dispose");
  expect(new Int32Array(flag)[0]).toBe(1);
});
