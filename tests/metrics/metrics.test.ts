/** Every metric of API.md section 9, with its values after known traffic. */
import { afterEach, describe, expect, test } from "bun:test";
import { serve } from "tsserve";
import { eventually, startServe } from "../harness.ts";
import { app as observedApp, Batcher, Clash, Fragile, Models } from "../fixtures/observed.ts";
import { parseMetrics, select, total, types } from "./parse.ts";
import { Echo as SocketEcho } from "../fixtures/websockets.ts";
import { closedWithin, openSocket, wsUrl } from "../websocket/client.ts";

const RAY_BUCKETS = ["1", "2", "5", "10", "20", "50", "100", "200", "300", "400", "500", "1000", "2000", "5000", "10000", "60000", "120000", "300000", "600000", "+Inf"];

afterEach(() => serve.shutdown());

async function scrape() {
  const text = await serve.metrics();
  return { text, samples: parseMetrics(text) };
}

describe("metrics", () => {
  test("HTTP, deployment, handle and controller metrics count known traffic", async () => {
    await using s = await startServe();
    await serve.run(observedApp, { name: "m1", routePrefix: "/m1" });
    for (let n = 0; n < 5; n++) expect((await fetch(`${s.url}/m1?n=${n}`)).status).toBe(200);
    expect((await fetch(`${s.url}/m1?n=13`)).status).toBe(500); // Front throws
    expect((await fetch(`${s.url}/m1?n=-1`)).status).toBe(500); // Echo throws, Front passes it on
    expect((await fetch(`${s.url}/m1-nowhere`)).status).toBe(404);
    expect((await fetch(`${s.url}/-/healthz`)).status).toBe(200); // not counted
    const { text, samples } = await scrape();
    const http = { application: "m1", route: "/m1", method: "GET" };

    expect(total(samples, "tsserve_num_http_requests_total", { ...http, status_code: "200" })).toBe(5);
    expect(total(samples, "tsserve_num_http_requests_total", { ...http, status_code: "500" })).toBe(2);
    expect(total(samples, "tsserve_num_http_requests_total", { application: "", route: "", status_code: "404" })).toBeGreaterThanOrEqual(1);
    expect(select(samples, "tsserve_num_http_requests_total", { route: "/-/healthz" })).toEqual([]);
    expect(total(samples, "tsserve_num_http_error_requests_total", { ...http, error_code: "500" })).toBe(2);
    expect(select(samples, "tsserve_num_http_error_requests_total", { ...http, error_code: "200" })).toEqual([]);
    const buckets = select(samples, "tsserve_http_request_latency_ms_bucket", { ...http, status_code: "200" });
    expect(buckets.map((b) => b.labels.le)).toEqual(RAY_BUCKETS);
    expect(buckets.at(-1)!.value).toBe(5);
    expect(total(samples, "tsserve_http_request_latency_ms_count", { ...http, status_code: "200" })).toBe(5);
    expect(total(samples, "tsserve_http_request_latency_ms_sum", { ...http, status_code: "200" })).toBeGreaterThan(0);
    expect(total(samples, "tsserve_num_ongoing_http_requests")).toBe(0);

    // Front served 7 calls (2 threw); Echo 6 (1 threw), each named by the route they came in by.
    const front = { application: "m1", deployment: "Front", route: "/m1" };
    const echo = { application: "m1", deployment: "Echo", route: "/m1" };
    expect(total(samples, "tsserve_deployment_request_counter_total", front)).toBe(7);
    expect(total(samples, "tsserve_deployment_error_counter_total", front)).toBe(2);
    expect(total(samples, "tsserve_deployment_request_counter_total", echo)).toBe(6);
    expect(total(samples, "tsserve_deployment_error_counter_total", echo)).toBe(1);
    for (const x of select(samples, "tsserve_deployment_request_counter_total", echo)) expect(x.labels.replica).toStartWith("m1#Echo#");
    expect(total(samples, "tsserve_deployment_processing_latency_ms_count", front)).toBe(7);
    expect(select(samples, "tsserve_deployment_processing_latency_ms_bucket", front).map((b) => b.labels.le)).toContain("600000");
    expect(select(samples, "tsserve_replica_processing_queries", { application: "m1" }).map((x) => x.value)).toEqual([0, 0, 0]);

    expect(total(samples, "tsserve_handle_request_counter_total", { application: "m1", deployment: "Echo" })).toBe(6);
    expect(select(samples, "tsserve_deployment_queued_queries", { application: "m1", deployment: "Echo" }).map((x) => x.value)).toEqual([0]);
    expect(total(samples, "tsserve_deployment_replica_starts_total", { application: "m1", deployment: "Echo" })).toBe(2);
    expect(total(samples, "tsserve_deployment_replica_starts_total", { application: "m1", deployment: "Front" })).toBe(1);
    const healthy = select(samples, "tsserve_deployment_replica_healthy", { application: "m1" });
    expect(healthy.map((x) => x.value)).toEqual([1, 1, 1]);
    expect(new Set(healthy.map((x) => x.labels.replica)).size).toBe(3);
    expect(total(samples, "tsserve_deployment_target_replicas", { application: "m1", deployment: "Echo" })).toBe(2);
    expect(total(samples, "process_resident_memory_bytes")).toBeGreaterThan(1e6);

    const t = types(text);
    expect(t.get("tsserve_num_http_requests_total")).toBe("counter");
    expect(t.get("tsserve_http_request_latency_ms")).toBe("histogram");
    expect(t.get("tsserve_num_ongoing_http_requests")).toBe("gauge");
    expect(t.get("tsserve_multiplexed_models_load_counter_total")).toBe("counter");
  });

  test("user metrics from replica code carry application, deployment and replica", async () => {
    await using s = await startServe();
    await serve.run(observedApp, { name: "m2", routePrefix: "/m2" });
    for (let n = 0; n < 5; n++) await (await fetch(`${s.url}/m2?n=${n}`)).text();
    const { text, samples } = await scrape();
    const echo = { application: "m2", deployment: "Echo" };
    expect(total(samples, "fixture_items_total", { ...echo, kind: "even" })).toBe(3);
    expect(total(samples, "fixture_items_total", { ...echo, kind: "odd" })).toBe(2);
    for (const x of select(samples, "fixture_items_total", echo)) expect(x.labels.replica).toStartWith("m2#Echo#");
    expect(total(samples, "fixture_size_count", echo)).toBe(5);
    expect(total(samples, "fixture_size_sum", echo)).toBe(0 + 1 + 2 + 3 + 4);
    expect(total(samples, "fixture_size_bucket", { ...echo, le: "1" })).toBe(2);
    // The gauge: each Echo replica holds the last value it was set to.
    const depths = select(samples, "fixture_depth", echo).map((x) => x.value);
    expect(depths).toContain(4);
    expect(types(text).get("fixture_items_total")).toBe("counter");
    expect(types(text).get("fixture_size")).toBe("histogram");
  });

  test("multiplexed model and batch metrics", async () => {
    await startServe();
    const models = await serve.run(Models.bind(), { name: "m3", routePrefix: null });
    for (const id of ["a", "b", "a", "c"]) expect(await models.remote(id)).toBe(id);
    const batcher = await serve.run(Batcher.bind(), { name: "m3b", routePrefix: null });
    expect(await Promise.all([1, 2, 3, 4].map((x) => batcher.remote(x)))).toEqual([2, 4, 6, 8]);
    const { samples } = await scrape();
    const m = { application: "m3", deployment: "Models" };
    expect(total(samples, "tsserve_multiplexed_models_load_counter_total", m)).toBe(3);
    expect(total(samples, "tsserve_multiplexed_models_unload_counter_total", m)).toBe(1); // c evicted b
    expect(total(samples, "tsserve_multiplexed_get_model_requests_counter_total", m)).toBe(4);
    expect(total(samples, "tsserve_num_multiplexed_models", m)).toBe(2);
    expect(total(samples, "tsserve_multiplexed_model_load_latency_ms_count", m)).toBe(3);
    const b = { application: "m3b", deployment: "Batcher" };
    expect(total(samples, "tsserve_batch_size_count", b)).toBe(1);
    expect(total(samples, "tsserve_batch_size_sum", b)).toBe(4);
    expect(total(samples, "tsserve_batch_size_bucket", { ...b, le: "2" })).toBe(0);
    expect(total(samples, "tsserve_batch_size_bucket", { ...b, le: "4" })).toBe(1);
  });

  test("counters of a deployment never go backwards when replicas stop, die or are replaced", async () => {
    await startServe();
    const h = await serve.run(Fragile.bind(), { name: "m4", routePrefix: null });
    const d = { application: "m4", deployment: "Fragile" };
    const count = async () => total((await scrape()).samples, "tsserve_deployment_request_counter_total", d);
    await Promise.all(Array.from({ length: 20 }, (_, i) => h.remote(i)));
    expect(await count()).toBe(20);
    // One replica dies (and is replaced): what it had counted at the last scrape stays.
    await h.crash.remote().catch(() => {});
    await eventually(async () => total((await scrape()).samples, "tsserve_deployment_replica_starts_total", d) === 3, 10_000);
    expect(await count()).toBeGreaterThanOrEqual(20);
    await Promise.all(Array.from({ length: 10 }, (_, i) => h.remote(i)));
    const before = await count();
    expect(before).toBeGreaterThanOrEqual(30);
    // Scaled down in place: the stopped replica hands over its final figures.
    await serve.run(Fragile.options({ numReplicas: 1 }).bind(), { name: "m4", routePrefix: null });
    expect(await count()).toBe(before);
    expect(select((await scrape()).samples, "tsserve_replica_processing_queries", d)).toHaveLength(1);
    await h.remote(1);
    expect(await count()).toBe(before + 1);
    // The user counter counts call() alone: 20 + 10 + 1 (the crash call is not one).
    expect(total((await scrape()).samples, "fixture_items_total", { ...d, kind: "fragile" })).toBe(31);
  });

  test("a scrape does not wait for a replica whose thread is stuck", async () => {
    await startServe();
    const h = await serve.run(Fragile.bind(), { name: "m5", routePrefix: null });
    await Promise.all(Array.from({ length: 10 }, (_, i) => h.remote(i)));
    await scrape(); // every replica's figures are known once
    // Both replicas busy: each holds its thread for 3 s.
    const held = [h.hold.remote(3000), h.hold.remote(3000)];
    let released = false;
    void Promise.all(held).then(() => (released = true));
    await eventually(async () => total((await scrape()).samples, "tsserve_handle_request_counter_total", { application: "m5" }) === 12, 2000);
    const { samples } = await scrape();
    expect(released).toBe(false);
    // Their last figures stand in for them.
    expect(total(samples, "tsserve_deployment_request_counter_total", { application: "m5", deployment: "Fragile" })).toBe(10);
    expect(await Promise.all(held)).toEqual(["released", "released"]);
  }, 15_000);

  test("open WebSockets count by application while they are open", async () => {
    await using s = await startServe();
    await serve.run(SocketEcho.bind(), { name: "mws", routePrefix: "/mws" });
    const open = async () => total((await scrape()).samples, "tsserve_num_ongoing_websockets", { application: "mws" });
    await using a = await openSocket(wsUrl(s.url, "/mws"));
    await using b = await openSocket(wsUrl(s.url, "/mws"));
    await a.next();
    await b.next();
    expect(await open()).toBe(2);
    a.send("bye");
    expect((await closedWithin(a)).code).toBe(1000);
    expect(await eventually(async () => (await open()) === 1)).toBe(true);
    b.send("bye");
    await closedWithin(b);
    expect(await eventually(async () => (await open()) === 0)).toBe(true);
  });

  test("a user metric made with two types in two replicas keeps the first type in scrapes", async () => {
    await startServe();
    await serve.run(Clash.bind("counter"), { name: "m6a", routePrefix: null });
    await serve.run(Clash.bind("gauge"), { name: "m6b", routePrefix: null });
    const { text, samples } = await scrape();
    const kinds = select(samples, "fixture_clash").map((x) => x.labels.application);
    expect(kinds).toHaveLength(1);
    expect(types(text).get("fixture_clash")).toBe(kinds[0] === "m6a" ? "counter" : "gauge");
  });

  test("under load: thousands of requests from dozens of callers are each counted once", async () => {
    await using s = await startServe();
    await serve.run(observedApp, { name: "m7", routePrefix: "/m7" });
    const callers = 40;
    const each = 50;
    await Promise.all(
      Array.from({ length: callers }, async (_, c) => {
        for (let i = 0; i < each; i++) {
          const r = await fetch(`${s.url}/m7?n=${100 + c * 100 + i}`);
          if (r.status !== 200) throw new Error(`status ${r.status}`);
          await r.arrayBuffer();
        }
      }),
    );
    const { samples } = await scrape();
    const n = callers * each;
    expect(total(samples, "tsserve_num_http_requests_total", { application: "m7", status_code: "200" })).toBe(n);
    expect(total(samples, "tsserve_http_request_latency_ms_count", { application: "m7" })).toBe(n);
    expect(total(samples, "tsserve_deployment_request_counter_total", { application: "m7", deployment: "Front" })).toBe(n);
    expect(total(samples, "tsserve_deployment_request_counter_total", { application: "m7", deployment: "Echo" })).toBe(n);
    expect(total(samples, "tsserve_handle_request_counter_total", { application: "m7", deployment: "Echo" })).toBe(n);
    expect(total(samples, "fixture_items_total", { application: "m7" })).toBe(n);
  });
});

describe("user metric definitions", () => {
  test("a built-in name, a runtime label or another type under the same name throws", () => {
    expect(() => new serve.metrics.Counter({ name: "tsserve_num_http_requests_total", help: "x" })).toThrow(/built-in tsserve metric/);
    expect(() => new serve.metrics.Gauge({ name: "u_gauge", help: "x", labelNames: ["replica"] })).toThrow(/label "replica" is added by tsserve/);
    expect(() => new serve.metrics.Counter({ name: "bad name", help: "x" })).toThrow(/name must be letters/);
    expect(() => new serve.metrics.Histogram({ name: "u_hist", help: "x", buckets: [5, 1] })).toThrow(/buckets must be increasing/);
    const c = new serve.metrics.Counter({ name: "u_same", help: "x" });
    expect(new serve.metrics.Counter({ name: "u_same", help: "x" })).toBe(c);
    expect(() => new serve.metrics.Gauge({ name: "u_same", help: "x" })).toThrow(/already exists as a counter/);
  });

  test("serve.metrics() before start says how to start", async () => {
    await serve.shutdown();
    await expect(serve.metrics()).rejects.toThrow(/serve.start\(\) or serve.run\(\)/);
  });
});
