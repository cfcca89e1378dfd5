// The HTTP edges: a slow answer outlives the idle timeout, routing without a usable Host,
// client request ids, MessagePack as deep as JSON, 503 while draining (pipelining: pipelining.test.ts).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { decode } from "@msgpack/msgpack";
import { serve } from "tsserve";
import { mainRuntime } from "../../runtime/main.ts";
import { proxyFetch } from "../../runtime/proxy/index.ts";
import { serveHttp } from "../../runtime/platform/index.ts";
import { eventually, startServe, type Served } from "../harness.ts";
import { deployed } from "../fixtures/scope.ts";
import { PathEcho } from "../fixtures/http_apps.ts";
import { Deep, ElysiaPaths, RequestIds, Slow } from "../fixtures/http_edges.ts";
import { RawClient, rawRequest } from "../raw_http.ts";

let served: Served;
beforeAll(async () => {
  served = await startServe();
});
afterAll(async () => {
  await served[Symbol.asyncDispose]();
});

const get = (path: string, init?: RequestInit) => fetch(served.url + path, init);

describe("a slow unary answer", () => {
  test("is not cut by the listener's idle timeout while the request is alive", async () => {
    await using _ = await deployed(Slow.bind(), { name: "e-slow", routePrefix: "/slow" });
    // A second listener on the same proxy with a 1 s idle timeout (Bun checks it about every
    // 4 s): before the fix, a 5 s answer was dropped with an empty reply at about 4 s.
    const short = serveHttp({ host: "127.0.0.1", port: 0, maxRequestBodySize: 1024, idleTimeoutSeconds: 1 }, proxyFetch(mainRuntime().proxy!));
    try {
      using slow = new RawClient(short.url);
      using brief = new RawClient(short.url);
      await Promise.all([
        (async () => {
          const res = await slow.request("GET /slow?ms=5000 HTTP/1.1\r\nHost: x\r\n\r\n", 15_000);
          expect(res.status).toBe(200);
          expect(res.body).toBe("slept 5000");
        })(),
        (async () => {
          // Waits long enough for its idle timeout to be lifted, and gets it back once answered:
          // the connection does not stay open forever.
          const res = await brief.request("GET /slow?ms=300 HTTP/1.1\r\nHost: x\r\n\r\n");
          expect(res.body).toBe("slept 300");
          expect(await brief.closes(10_000)).toBe(true);
        })(),
      ]);
    } finally {
      await short.stop();
    }
  }, 30_000);
});

describe("requests without a usable Host header", () => {
  let apps: AsyncDisposable[];
  beforeAll(async () => {
    apps = await Promise.all([
      deployed(PathEcho.bind("root"), { name: "e-root", routePrefix: "/" }),
      deployed(PathEcho.bind("api"), { name: "e-api", routePrefix: "/api" }),
      deployed(PathEcho.bind("a"), { name: "e-a", routePrefix: "/a" }),
      deployed(PathEcho.bind("a/b"), { name: "e-ab", routePrefix: "/a/b" }),
      deployed(ElysiaPaths.bind(), { name: "e-elysia", routePrefix: "/e" }),
    ]);
  });
  afterAll(() => Promise.all(apps.map((a) => a[Symbol.asyncDispose]())));

  test("an HTTP/1.0 health check without Host sees the instance up", async () => {
    for (const head of ["", "Host:\r\n", "Host: a\r\n"]) {
      const res = await rawRequest(served.url, `GET /-/healthz HTTP/1.0\r\n${head}\r\n`);
      expect({ head, status: res.status, body: res.body }).toEqual({ head, status: 200, body: "success" });
    }
    const routes = await rawRequest(served.url, "GET /-/routes HTTP/1.0\r\n\r\n");
    expect(JSON.parse(routes.body)).toMatchObject({ "/api": "e-api", "/e": "e-elysia" });
  });

  test("no Host, an empty one and an odd one route exactly like a normal Host", async () => {
    // HTTP/1.0 closes the connection after each answer (and HTTP/1.1 requires a Host: Bun answers 400).
    const ask = async (c: RawClient, version: string, head: string, path: string) =>
      (version === "1.0" ? await rawRequest(served.url, `GET ${path} HTTP/1.0\r\n${head}\r\n`) : await c.request(`GET ${path} HTTP/1.1\r\n${head}\r\n`)).body;
    for (const [version, head] of [["1.0", ""], ["1.0", "Host: a\r\n"], ["1.1", "Host:\r\n"], ["1.1", "Host: a\r\n"], ["1.1", "Host: a/b?c\r\n"], ["1.1", "Host: x.example:1\r\n"]] as const) {
      using c = new RawClient(served.url);
      expect(await ask(c, version, head, "/api/x?y=1")).toBe("api /x?y=1");
      expect(await ask(c, version, head, "/public/admin")).toBe("root /public/admin");
      expect(await ask(c, version, head, "/-x")).toBe("root /-x");
    }
  });

  test("an Elysia ingress sees its own path and a URL on the listener's origin", async () => {
    for (const head of ["", "Host: a\r\n", "Host:\r\n"]) {
      const res = await rawRequest(served.url, `GET /e/public/admin?q=1 HTTP/1.0\r\n${head}\r\n`);
      expect({ head, body: res.body }).toEqual({ head, body: `public admin at ${served.url}/public/admin?q=1` });
    }
  });

  test("under load: 32 raw clients with odd Host headers, 3,200 requests, all routed right", async () => {
    const hosts = ["Host:\r\n", "Host: a\r\n", "Host: ab\r\n", "Host: a/b?c\r\n", "Host: evil.example:99\r\n", "Host: [::1]\r\n", `Host: ${new URL(served.url).host}\r\n`, ""];
    const cases: [string, string][] = [
      ["/a/b/c?i=", "a/b /c?i="],
      ["/a/x?i=", "a /x?i="],
      ["/ab?i=", "root /ab?i="],
      ["/public/admin?i=", "root /public/admin?i="],
    ];
    const wrong: string[] = [];
    await Promise.all(
      Array.from({ length: 32 }, async (_, client) => {
        using c = new RawClient(served.url);
        const head = hosts[client % hosts.length]!;
        for (let i = 0; i < 100; i++) {
          const [path, expected] = cases[(client + i) % cases.length]!;
          // No Host at all is HTTP/1.0, one connection per request; the rest share a keep-alive connection.
          const res = head === "" ? await rawRequest(served.url, `GET ${path}${i} HTTP/1.0\r\n\r\n`, 20_000) : await c.request(`GET ${path}${i} HTTP/1.1\r\n${head}\r\n`, 20_000);
          if (res.status !== 200 || res.body !== `${expected}${i}`) wrong.push(`${JSON.stringify(head)} ${path}${i}: ${res.status} ${res.body}`);
        }
      }),
    );
    expect(wrong).toEqual([]);
  }, 60_000);
});

describe("x-request-id from the client, and 404s", () => {
  let ids: AsyncDisposable;
  beforeAll(async () => {
    ids = await deployed(RequestIds.bind(), { name: "e-ids", routePrefix: "/ids" });
  });
  afterAll(() => ids[Symbol.asyncDispose]());

  const seen = async (res: Response) => ({ response: res.headers.get("x-request-id"), ...((await res.json()) as { context: string; header: string }) });

  test("an id of up to 128 printable characters is used as it is", async () => {
    const id = `${"a-Z_0.9:/+=~ ".repeat(9)}abcdefghijk`;
    expect(id.length).toBe(128);
    expect(await seen(await get("/ids", { headers: { "x-request-id": id } }))).toEqual({ response: id, context: id, header: id });
  });

  test("a longer one is replaced by a fresh id, the same one everywhere", async () => {
    const id = "x".repeat(129);
    const s = await seen(await get("/ids", { headers: { "x-request-id": id } }));
    expect(s.response).not.toBe(id);
    expect(s.response!.length).toBeGreaterThan(0);
    expect(s.response!.length).toBeLessThanOrEqual(128);
    expect(s.context).toBe(s.response!);
    expect(s.header).toBe(s.response!);
  });

  test("one with bytes outside printable ASCII is replaced too", async () => {
    for (const bad of [Buffer.from("caf\xe9-1", "latin1"), Buffer.from("tab\there", "latin1")]) {
      const res = await rawRequest(served.url, Buffer.concat([Buffer.from("GET /ids HTTP/1.1\r\nHost: x\r\nConnection: close\r\nx-request-id: "), bad, Buffer.from("\r\n\r\n")]));
      expect(res.status).toBe(200);
      const body = JSON.parse(res.body) as { context: string; header: string };
      expect(res.headers["x-request-id"]).toMatch(/^[\x21-\x7e]+$/);
      expect(body).toEqual({ context: res.headers["x-request-id"]!, header: res.headers["x-request-id"]! });
    }
  });

  test("a 404 without Host names the path and the listener's own address", async () => {
    const res = await rawRequest(served.url, "GET /nope?x=1 HTTP/1.0\r\n\r\n");
    expect(res.status).toBe(404);
    expect(res.body).toBe(`Path '/nope' not found. Ping ${served.url}/-/routes for available routes.`);
  });

  test("a 404 carries a fresh id instead of an unfit one", async () => {
    const res = await get("/no-such-app", { headers: { "x-request-id": "y".repeat(500) } });
    expect(res.status).toBe(404);
    expect(res.headers.get("x-request-id")).not.toBe("y".repeat(500));
  });
});

describe("MessagePack answers", () => {
  test("a value nested past 100 levels is encoded as MessagePack as deep as JSON goes", async () => {
    await using _ = await deployed(Deep.bind(), { name: "e-deep", routePrefix: "/deep" });
    for (const depth of [101, 150, 5000, 20000]) {
      const json = await get(`/deep?depth=${depth}`);
      expect(json.status).toBe(200);
      const text = await json.text();
      const packed = await get(`/deep?depth=${depth}`, { headers: { accept: "application/msgpack" } });
      expect({ depth, status: packed.status, type: packed.headers.get("content-type") }).toEqual({ depth, status: 200, type: "application/msgpack" });
      expect(JSON.stringify(decode(new Uint8Array(await packed.arrayBuffer())))).toBe(text);
    }
  }, 30_000);
});

describe("draining", () => {
  test("requests that arrive while the instance drains get 503, never 404, until the listener closes", async () => {
    const s = await startServe();
    const arrived = new SharedArrayBuffer(4);
    await serve.run(Slow.bind(arrived), { name: "e-drain", routePrefix: "/" });
    await serve.run(PathEcho.bind("other"), { name: "e-drain-other", routePrefix: "/other" });
    const inFlight = fetch(`${s.url}/?ms=1000`);
    // The slow request is at its replica (so the drain waits for it) before the shutdown starts.
    await eventually(() => Atomics.load(new Int32Array(arrived), 0) === 1, 5000, 5);
    const stopping = serve.shutdown();
    // Once the drain has begun, the other app stops answering 200 (before the fix: 404).
    await eventually(async () => (await fetch(`${s.url}/other/x`)).status !== 200, 5000, 5);
    for (const path of ["/?ms=0", "/other/x", "/nowhere/-/x"]) {
      const res = await fetch(s.url + path);
      expect({ path, status: res.status }).toEqual({ path, status: 503 });
      expect(await res.text()).toContain("shutting down");
    }
    const health = await fetch(`${s.url}/-/healthz`);
    expect(health.status).toBe(503);
    const slow = await inFlight;
    expect(slow.status).toBe(200);
    expect(await slow.text()).toBe("slept 1000");
    await stopping;
  }, 30_000);
});
