// userConfig: a target without reconfigure is refused when defined; reconfigure applies in place,
// after the requests in flight finish, so each request sees one config from start to end.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { serve } from "tsserve";
import { eventually, startServe, type Served, thrown, sleep } from "../harness.ts";
import { FieldReconfigure, Tagged } from "../fixtures/lifecycle2.ts";

let s: Served;
beforeAll(async () => {
  s = await startServe();
});
afterAll(() => s[Symbol.asyncDispose]());

describe("userConfig without reconfigure", () => {
  test("serve.deployment() refuses it, naming the fix", () => {
    const err = thrown(() => serve.deployment(class NoReconfigure { call() {} }, { userConfig: { a: 1 } }));
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toBe("NoReconfigure has userConfig set but no reconfigure(userConfig) method; add reconfigure(userConfig) to the class, or remove userConfig");
  });

  test("options() refuses it too, under the new name", () => {
    const D = serve.deployment(class Plain { call() {} });
    const err = thrown(() => D.options({ name: "Renamed", userConfig: { a: 1 } }));
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toContain("Renamed has userConfig set but no reconfigure(userConfig) method");
  });

  test("the decorator form refuses it", () => {
    const decorate = serve.deployment({ userConfig: 1 });
    const err = thrown(() => decorate(class Decorated { call() {} }));
    expect(err.message).toContain("Decorated has userConfig set but no reconfigure(userConfig) method");
  });

  test("a function deployment cannot take userConfig", () => {
    const err = thrown(() => serve.deployment(function handler() { return 1; }, { userConfig: {} }));
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toContain("handler is a function deployment, which cannot take userConfig");
  });

  test("reconfigure inherited, or defined as a field, is accepted", async () => {
    class Base {
      reconfigure(_c: unknown) {}
    }
    expect(() => serve.deployment(class Child extends Base { call() {} }, { userConfig: 1 })).not.toThrow();
    const h = await serve.run(FieldReconfigure.bind(), { name: "field", routePrefix: null });
    expect(await h.remote()).toBe("field");
    await serve.delete("field");
  });
});

describe("reconfigure in place", () => {
  test("a slow request in flight keeps the old config; requests after the redeploy see the new one", async () => {
    const flags = new SharedArrayBuffer(4);
    const h = await serve.run(Tagged.bind(flags), { name: "tagged", routePrefix: null });
    const replica = (await serve.status()).applications.tagged!.deployments.Tagged!.replicas[0]!.replicaId;
    const slow = h.slow.remote(400);
    await eventually(() => Atomics.load(new Int32Array(flags), 0) === 1);
    let redeployed = false;
    const redeploy = serve.run(Tagged.options({ userConfig: { tag: "v2" } }).bind(flags), { name: "tagged", routePrefix: null }).then(() => {
      redeployed = true;
    });
    // Requests sent while the redeploy waits: each must see one config throughout.
    const during: PromiseLike<string[]>[] = [];
    while (!redeployed && during.length < 40) {
      during.push(h.slow.remote(20));
      await sleep(25);
    }
    await redeploy;
    expect(await slow).toEqual(["v1", "v1"]);
    expect(await h.remote()).toBe("v2");
    for (const [before, after] of await Promise.all(during)) expect(before).toBe(after);
    // In place: the same replica.
    expect((await serve.status()).applications.tagged!.deployments.Tagged!.replicas.map((r) => r.replicaId)).toEqual([replica]);
    await serve.delete("tagged");
  });

  test("redeploys in quick succession apply their userConfigs in order", async () => {
    const flags = new SharedArrayBuffer(4);
    const h = await serve.run(Tagged.options({ userConfig: { tag: "a" } }).bind(flags), { name: "order", routePrefix: null });
    const deploys = ["b", "c", "d"].map((tag) => serve.run(Tagged.options({ userConfig: { tag } }).bind(flags), { name: "order", routePrefix: null }));
    await Promise.all(deploys);
    expect(await h.remote()).toBe("d");
    await serve.delete("order");
  });
});
