// The HTTP proxy: routing by prefix, what the ingress sees, return values, headers, errors, bodies.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { decode } from "@msgpack/msgpack";
import { serve } from "tsserve";
import { startServe, type Served, rejection } from "../harness.ts";
import { deployed } from "../fixtures/scope.ts";
import { Conversions, ElysiaField, FetchAndCall, methodOf, noParams, PathEcho } from "../fixtures/http_apps.ts";

let served: Served;
beforeAll(async () => {
  served = await startServe();
});
afterAll(async () => {
  await served[Symbol.asyncDispose]();
});

const get = (path: string, init?: RequestInit) => fetch(served.url + path, init);
const text = async (path: string, init?: RequestInit) => (await get(path, init)).text();

describe("routing", () => {
  test("the longest matching prefix wins, and /a matches /a, /a/ and /a/x but not /ab", async () => {
    await using _root = await deployed(PathEcho.bind("root"), { name: "r-root", routePrefix: "/" });
    await using _a = await deployed(PathEcho.bind("a"), { name: "r-a", routePrefix: "/a" });
    await using _ab = await deployed(PathEcho.bind("a/b"), { name: "r-ab", routePrefix: "/a/b" });
    expect(await text("/a")).toBe("a /");
    expect(await text("/a/")).toBe("a /");
    expect(await text("/a/x")).toBe("a /x");
    expect(await text("/ab")).toBe("root /ab");
    expect(await text("/a/b/c")).toBe("a/b /c");
    expect(await text("/a/bc")).toBe("a /bc");
    expect(await text("/")).toBe("root /");
  });

  test("the ingress sees the path relative to its prefix, with the query", async () => {
    await using _ = await deployed(PathEcho.bind("api"), { name: "r-relative", routePrefix: "/api" });
    expect(await text("/api/100")).toBe("api /100");
    expect(await text("/api/100?x=1&y=2")).toBe("api /100?x=1&y=2");
  });

  test.each([
    ["api", 'routePrefix must start with "/"'],
    ["/api/", 'routePrefix must not end with "/"'],
    ["/a{b}", 'routePrefix must not contain "{" or "}"'],
  ])("routePrefix %p is rejected", async (prefix, message) => {
    const err = await rejection(serve.run(PathEcho.bind("bad"), { name: "r-bad", routePrefix: prefix }));
    expect(err.name).toBe("TypeError");
    expect(err.message).toContain(message);
    expect((await serve.status()).applications["r-bad"]).toBeUndefined();
  });

  test("two apps cannot share a prefix, and the first keeps serving", async () => {
    await using _ = await deployed(PathEcho.bind("one"), { name: "r-one", routePrefix: "/dup" });
    const err = await rejection(serve.run(PathEcho.bind("two"), { name: "r-two", routePrefix: "/dup" }));
    expect(err.name).toBe("ServeError");
    expect(err.message).toContain('routePrefix "/dup" is already used by application "r-one"');
    expect(await text("/dup/x")).toBe("one /x");
    expect((await serve.status()).applications["r-two"]).toBeUndefined();
  });

  test("an unknown path gets 404 with the exact body", async () => {
    await using _ = await deployed(PathEcho.bind("api"), { name: "r-404", routePrefix: "/api" });
    const res = await get("/x");
    expect(res.status).toBe(404);
    expect(await res.text()).toBe(`Path '/x' not found. Ping ${served.url}/-/routes for available routes.`);
  });

  test("the 404 body names the path without its query", async () => {
    await using _ = await deployed(PathEcho.bind("api"), { name: "r-404-query", routePrefix: "/api" });
    const res = await get("/apix/y?z=1");
    expect(res.status).toBe(404);
    expect(await res.text()).toBe(`Path '/apix/y' not found. Ping ${served.url}/-/routes for available routes.`);
  });

  test("/-/routes lists prefixes and app names", async () => {
    expect(await (await get("/-/routes")).json()).toEqual({});
    await using _a = await deployed(PathEcho.bind("a"), { name: "routes-a", routePrefix: "/a" });
    await using _b = await deployed(PathEcho.bind("b"), { name: "routes-b", routePrefix: "/b/c" });
    await using _c = await deployed(PathEcho.bind("c"), { name: "routes-none", routePrefix: null });
    const res = await get("/-/routes");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ "/a": "routes-a", "/b/c": "routes-b" });
  });

  test("/-/healthz is 503 before any routed app and 200 success after", async () => {
    const before = await get("/-/healthz");
    expect(before.status).toBe(503);
    expect(await before.text()).toBe("Route table is not populated yet.");
    await using _ = await deployed(PathEcho.bind("h"), { name: "r-healthz", routePrefix: "/h" });
    const after = await get("/-/healthz");
    expect(after.status).toBe(200);
    expect(await after.text()).toBe("success");
  });
});

describe("ingress kinds", () => {
  test("fetch(request) is preferred over call(request)", async () => {
    await using _ = await deployed(FetchAndCall.bind(), { name: "k-fetch", routePrefix: "/k" });
    expect(await text("/k")).toBe("fetch");
  });

  test("a function deployment is called with the request", async () => {
    await using _ = await deployed(methodOf.bind(), { name: "k-fn", routePrefix: "/fn" });
    expect(await text("/fn", { method: "PUT", body: "x" })).toBe("method PUT");
  });

  test("a function deployment without parameters is called with nothing", async () => {
    await using _ = await deployed(noParams.bind(), { name: "k-fn0", routePrefix: "/fn0" });
    expect(await text("/fn0")).toBe("no params");
  });

  test("an Elysia app as the class's fetch field serves its routes", async () => {
    await using _ = await deployed(ElysiaField.bind(), { name: "k-elysia", routePrefix: "/greet" });
    expect(await text("/greet/Corey")).toBe("Hi Corey!");
  });
});

describe("return values and headers", () => {
  let conversions: AsyncDisposable;
  beforeAll(async () => {
    conversions = await deployed(Conversions.bind(), { name: "conversions", routePrefix: "/c" });
  });
  afterAll(async () => {
    await conversions[Symbol.asyncDispose]();
  });

  test("a Response passes through with its status, headers and body", async () => {
    const res = await get("/c/response");
    expect(res.status).toBe(201);
    expect(res.headers.get("x-custom")).toBe("yes");
    expect(res.headers.get("content-type")).toBe("text/x-custom");
    expect(await res.text()).toBe("created");
  });

  test("a string is text/plain; charset=utf-8", async () => {
    const res = await get("/c/string");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await res.text()).toBe("plain text");
  });

  test("a Uint8Array is application/octet-stream", async () => {
    const res = await get("/c/bytes");
    expect(res.headers.get("content-type")).toBe("application/octet-stream");
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(new Uint8Array([0, 1, 2, 255]));
  });

  test("an ArrayBuffer is application/octet-stream", async () => {
    const res = await get("/c/buffer");
    expect(res.headers.get("content-type")).toBe("application/octet-stream");
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(new Uint8Array([9, 8, 7]));
  });

  test("null is an empty 200", async () => {
    const res = await get("/c/null");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("");
  });

  test("undefined is an empty 200", async () => {
    const res = await get("/c/undefined");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("");
  });

  test("an object is JSON", async () => {
    const res = await get("/c/object");
    expect(res.headers.get("content-type")).toStartWith("application/json");
    expect(await res.json()).toEqual({ a: 1, list: [1, "two", null], nested: { ok: true } });
  });

  test("a number is JSON", async () => {
    const res = await get("/c/number");
    expect(await res.json()).toBe(42);
  });

  test("Accept: application/msgpack gets MessagePack", async () => {
    const res = await get("/c/object", { headers: { accept: "application/msgpack" } });
    expect(res.headers.get("content-type")).toBe("application/msgpack");
    expect(decode(new Uint8Array(await res.arrayBuffer()))).toEqual({ a: 1, list: [1, "two", null], nested: { ok: true } });
  });

  test("Accept: application/msgpack leaves strings as text", async () => {
    const res = await get("/c/string", { headers: { accept: "application/msgpack" } });
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await res.text()).toBe("plain text");
  });

  test("x-request-id is echoed when sent", async () => {
    const res = await get("/c/string", { headers: { "x-request-id": "abc-123" } });
    expect(res.headers.get("x-request-id")).toBe("abc-123");
  });

  test("x-request-id is generated when not sent, different per request", async () => {
    const a = (await get("/c/string")).headers.get("x-request-id");
    const b = (await get("/c/string")).headers.get("x-request-id");
    expect(a).toBeTruthy();
    expect(b).toBeTruthy();
    expect(a).not.toBe(b);
  });

  test("user code that throws gets 500 Internal Server Error", async () => {
    const res = await get("/c/throw", { headers: { "x-request-id": "failing-1" } });
    expect(res.status).toBe(500);
    expect(await res.text()).toBe("Internal Server Error");
    expect(res.headers.get("x-request-id")).toBe("failing-1");
  });

  test("a 5 MB random body is echoed byte for byte", async () => {
    const body = new Uint8Array(5 * 1024 * 1024);
    for (let i = 0; i < body.length; i += 65536) crypto.getRandomValues(body.subarray(i, i + 65536));
    const res = await get("/c/echo", { method: "POST", body });
    expect(res.status).toBe(200);
    const back = new Uint8Array(await res.arrayBuffer());
    expect(back.length).toBe(body.length);
    expect(Buffer.compare(back, body)).toBe(0);
  });

  test("a body over the 100 MiB limit gets 413 with a message", async () => {
    // Claim the size in Content-Length and send no body: the proxy answers before reading it.
    const { hostname: host, port } = new URL(served.url);
    const claimed = 100 * 1024 * 1024 + 1;
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host, port: Number(port) });
      let got = "";
      const timer = setTimeout(() => (socket.destroy(), reject(new Error(`no answer within 5 s; got ${JSON.stringify(got)}`))), 5000);
      socket.on("error", reject);
      socket.on("data", (chunk) => {
        got += chunk.toString("latin1");
        const headEnd = got.indexOf("\r\n\r\n");
        const length = /content-length: (\d+)/i.exec(got)?.[1];
        if (headEnd >= 0 && length !== undefined && got.length >= headEnd + 4 + Number(length)) {
          clearTimeout(timer);
          socket.destroy();
          resolve(got);
        }
      });
      socket.write(`POST /c/echo HTTP/1.1\r\nHost: ${host}:${port}\r\nContent-Length: ${claimed}\r\n\r\n`);
    });
    expect(raw).toStartWith("HTTP/1.1 413");
    expect(raw.slice(raw.indexOf("\r\n\r\n") + 4)).toBe(
      `Request body of ${claimed} bytes is larger than the limit of ${100 * 1024 * 1024} bytes; send less, or raise http.maxBodyBytes.`,
    );
  });
});
