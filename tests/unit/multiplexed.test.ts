import { afterEach, expect, test } from "bun:test";
import { sleep } from "../harness.ts";
import { type RequestContext, requestScope } from "../../sdk/context.ts";
import { disposeAllModels, multiplexed, multiplexStats, onModelIdsChanged } from "../../sdk/multiplexed.ts";

// The registry is per module (per replica); empty it so tests do not see each other's models.
afterEach(() => disposeAllModels().catch(() => {}));

function request(multiplexedModelId: string): RequestContext {
  const signal = new AbortController().signal;
  return { requestId: "r1", appName: "app", deploymentName: "D", replicaId: "D#1", route: "", multiplexedModelId, signal };
}

/** A model that records when it is disposed. */
function model(id: string, disposed: string[]) {
  return { id, dispose: () => void disposed.push(id) };
}

test("LRU: models 1, 2, 1, 3 with max 2 leave 1 and 3", async () => {
  const loaded: string[] = [];
  const disposed: string[] = [];
  const get = multiplexed((id: string) => (loaded.push(id), model(id, disposed)), { maxNumModelsPerReplica: 2 });
  for (const id of ["1", "2", "1", "3"]) expect((await get(id)).id).toBe(id);
  expect(loaded).toEqual(["1", "2", "3"]);
  expect(disposed).toEqual(["2"]);
  expect(multiplexStats().loaded).toEqual(["1", "3"]);
});

test("eviction awaits asyncDispose, Symbol.dispose or dispose() before loading", async () => {
  const gate = Promise.withResolvers<void>();
  const calls: string[] = [];
  const models: Record<string, object> = {
    a: { [Symbol.asyncDispose]: async () => (await gate.promise, calls.push("asyncDispose a")) },
    b: { [Symbol.dispose]: () => void calls.push("dispose symbol b") },
    c: { dispose: async () => void calls.push("dispose() c") },
    d: {},
  };
  const get = multiplexed((id: string) => (calls.push(`load ${id}`), models[id]!), { maxNumModelsPerReplica: 1 });
  await get("a");
  let bDone = false;
  const b = get("b").then(() => (bDone = true));
  await sleep(0);
  expect(bDone).toBe(false); // still disposing a
  gate.resolve();
  await b;
  await get("c");
  await get("d");
  expect(calls).toEqual(["load a", "asyncDispose a", "load b", "dispose symbol b", "load c", "dispose() c", "load d"]);
});

test("a disposer that throws rejects the call that caused the eviction", async () => {
  const boom = new Error("cannot free GPU memory");
  const get = multiplexed((id: string) => ({ id, dispose: () => { if (id === "a") throw boom; } }), { maxNumModelsPerReplica: 1 });
  await get("a");
  await expect(get("b")).rejects.toBe(boom);
  // a is gone either way; b loads on the next call.
  expect((await get("b")).id).toBe("b");
  expect(multiplexStats().loaded).toEqual(["b"]);
});

test("concurrent calls for one id share a single load, and loads run one at a time", async () => {
  let running = 0;
  let most = 0;
  const counts: Record<string, number> = {};
  const get = multiplexed(async (id: string) => {
    counts[id] = (counts[id] ?? 0) + 1;
    most = Math.max(most, ++running);
    await sleep(5);
    running--;
    return { id };
  });
  const [x1, x2, y, x3] = await Promise.all([get("x"), get("x"), get("y"), get("x")]);
  expect(counts).toEqual({ x: 1, y: 1 });
  expect(x1).toBe(x2);
  expect(x1).toBe(x3);
  expect(y!.id).toBe("y");
  expect(most).toBe(1);
});

test("a failed load rejects its callers and clears the loading mark", async () => {
  let attempts = 0;
  const seen: string[][] = [];
  const stop = onModelIdsChanged((ids) => seen.push(ids));
  const get = multiplexed(async (id: string) => {
    if (++attempts === 1) throw new Error(`no weights for ${id}`);
    return { id };
  });
  const results = await Promise.allSettled([get("m"), get("m")]);
  expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
  expect((results[0] as PromiseRejectedResult).reason.message).toBe("no weights for m");
  expect(seen).toEqual([["m"], []]);
  expect((await get("m")).id).toBe("m");
  expect(attempts).toBe(2);
  stop();
});

test("no argument means the current request's model id", async () => {
  const get = multiplexed((id: string) => ({ id }));
  const m = await requestScope.run(request("model-7"), () => get());
  expect(m.id).toBe("model-7");
  await expect(get()).rejects.toThrow(/no model id was given and the current request has none.*serve_multiplexed_model_id/);
  await expect(requestScope.run(request(""), () => get())).rejects.toThrow(TypeError);
});

test("validation names the problem", async () => {
  const load = (id: string) => id;
  expect(() => multiplexed("nope" as any)).toThrow('serve.multiplexed(): loader must be a function taking the model id, got "nope"');
  expect(() => multiplexed(((a: string, b: string) => a + b) as any)).toThrow("loader must take one parameter, the model id; it declares 2");
  for (const bad of [0, -2, 1.5, "3", null]) {
    expect(() => multiplexed(load, { maxNumModelsPerReplica: bad as any })).toThrow(
      `maxNumModelsPerReplica must be a positive integer, or -1 for no limit, got ${typeof bad === "string" ? '"3"' : bad}`,
    );
  }
  expect(() => multiplexed(load, { maxModels: 2 } as any)).toThrow('unknown option "maxModels"; known options: maxNumModelsPerReplica');
  const get = multiplexed(load);
  await expect(get("")).rejects.toThrow('serve.multiplexed(): the model id must be a non-empty string, got ""');
  await expect(get(42 as any)).rejects.toThrow("the model id must be a non-empty string, got 42");
});

test("-1 keeps every model", async () => {
  const disposed: string[] = [];
  const get = multiplexed((id: string) => model(id, disposed), { maxNumModelsPerReplica: -1 });
  for (let i = 0; i < 20; i++) await get(`m${i}`);
  expect(disposed).toEqual([]);
  expect(multiplexStats().loaded.length).toBe(20);
});

test("the ids listener sees held and loading ids across caches, sorted, on change only", async () => {
  const seen: string[][] = [];
  const stop = onModelIdsChanged((ids) => seen.push(ids));
  const gate = Promise.withResolvers<void>();
  const one = multiplexed(async (id: string) => (await gate.promise, { id }), { maxNumModelsPerReplica: 1 });
  const two = multiplexed((id: string) => ({ id }));
  const loadingB = one("b");
  expect(seen).toEqual([["b"]]); // marked loading at once
  gate.resolve();
  await loadingB;
  await two("a");
  await one("b"); // a hit changes nothing
  await one("c"); // c loading, then b evicted
  expect(seen).toEqual([["b"], ["a", "b"], ["a", "b", "c"], ["a", "c"]]);
  stop();
  await one("d");
  expect(seen.length).toBe(4);
});

test("stats count loads, unloads and load time", async () => {
  const before = multiplexStats();
  const get = multiplexed(async (id: string) => (await sleep(2), { id }), { maxNumModelsPerReplica: 1 });
  await get("a");
  await get("b");
  const after = multiplexStats();
  expect(after.loads - before.loads).toBe(2);
  expect(after.unloads - before.unloads).toBe(1);
  expect(after.loadMsTotal - before.loadMsTotal).toBeGreaterThan(1);
  expect(after.loaded).toEqual(["b"]);
});

test("disposeAllModels disposes every model, reports disposer errors, and leaves caches usable", async () => {
  const disposed: string[] = [];
  const one = multiplexed((id: string) => model(id, disposed));
  const two = multiplexed((id: string) => ({ dispose: () => { throw new Error(`stuck ${id}`); } }));
  await one("a");
  await one("b");
  await two("c");
  await expect(disposeAllModels()).rejects.toThrow("stuck c");
  expect(disposed).toEqual(["a", "b"]);
  expect(multiplexStats().loaded).toEqual([]);
  expect((await one("a")).id).toBe("a");
});

// Compile-time only: the model type is what the loader resolves to.
type Equal<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;
function typeChecks(expectType: <T extends true>(ok: T) => void) {
  const get = multiplexed(async (id: string) => ({ id }));
  expectType<Equal<ReturnType<typeof get>, Promise<{ id: string }>>>(true);
  // @ts-expect-error a model id is a string
  void get(1);
}
void typeChecks;
