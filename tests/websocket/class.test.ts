// WebSockets to a class ingress's `async *websocket(messages, request)`, through the proxy.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { serve } from "tsserve";
import { eventually, startServe, type Served } from "../harness.ts";
import { deployed } from "../fixtures/scope.ts";
import { Echo, ModelChat, Watched } from "../fixtures/websockets.ts";
import { PathEcho } from "../fixtures/http_apps.ts";
import { closedWithin, openSocket, wsUrl } from "./client.ts";
import { slowRead } from "./slow_reader.ts";

let served: Served;
beforeAll(async () => {
  served = await startServe();
});
afterAll(async () => {
  await served[Symbol.asyncDispose]();
});

describe("class ingress websocket()", () => {
  test("frames keep their order and type both ways; the generator's return closes with 1000", async () => {
    await using _ = await deployed(Echo.bind(), { name: "ws-echo", routePrefix: "/echo" });
    await using s = await openSocket(wsUrl(served.url, "/echo/room?x=1"));
    const hello = JSON.parse((await s.next()) as string);
    expect(hello.path).toBe("/room");
    s.send("one");
    s.send(new Uint8Array([1, 2, 3]));
    s.send("two");
    s.send(new Uint8Array([]));
    expect(await s.next()).toBe("text:one");
    expect(await s.next()).toEqual(new Uint8Array([3, 2, 1]));
    expect(await s.next()).toBe("text:two");
    expect(await s.next()).toEqual(new Uint8Array([]));
    s.send("bye");
    expect(await closedWithin(s)).toEqual({ code: 1000, reason: "" });
  });

  test("the request id and the multiplexed model id come from the upgrade request", async () => {
    await using _ = await deployed(Echo.bind(), { name: "ws-ids", routePrefix: "/ids" });
    await using s = await openSocket(wsUrl(served.url, "/ids"), { "x-request-id": "chat-42", serve_multiplexed_model_id: "llama" });
    const hello = JSON.parse((await s.next()) as string);
    expect(hello).toMatchObject({ path: "/", requestId: "chat-42", modelId: "llama" });
    await using t = await openSocket(wsUrl(served.url, "/ids"));
    expect(JSON.parse((await t.next()) as string).requestId).toMatch(/\S+/);
    // The 101 answer carries the request id too (a raw client, to see the headers).
    const raw = await slowRead(served.url, "/ids", { bytesPerTick: 1 << 20, tickMs: 1, timeoutMs: 5000, headers: { "x-request-id": "chat-43" }, stopAfter: 1 });
    expect(raw.head).toStartWith("HTTP/1.1 101");
    expect(raw.head.toLowerCase()).toContain("x-request-id: chat-43");
    expect(JSON.parse(raw.messages[0]!).requestId).toBe("chat-43");
  });

  test("a model-pinned socket lands on the replica that holds the model", async () => {
    await using _ = await deployed(ModelChat.bind(), { name: "ws-pinned", routePrefix: "/pinned" });
    const holder = async () => {
      await using s = await openSocket(wsUrl(served.url, "/pinned"), { serve_multiplexed_model_id: "m1" });
      return (await s.next()) as string;
    };
    const first = await holder();
    expect(first).toStartWith("m1@");
    // Once the proxy has heard which replica loaded m1, every socket for m1 goes there.
    await eventually(async () => (await holder()) === first);
    for (let i = 0; i < 10; i++) expect(await holder()).toBe(first);
  });

  test("a generator that throws closes the socket with 1011", async () => {
    await using _ = await deployed(Echo.bind(), { name: "ws-throw", routePrefix: "/throw" });
    await using s = await openSocket(wsUrl(served.url, "/throw"));
    await s.next();
    s.send("boom");
    expect(await closedWithin(s)).toEqual({ code: 1011, reason: "Internal Server Error" });
  });

  test("a client close ends messages, fires the signal and runs the generator's finally", async () => {
    const flags = new SharedArrayBuffer(12);
    const counts = new Int32Array(flags);
    await using _ = await deployed(Watched.bind(flags), { name: "ws-watched", routePrefix: "/watched" });
    const s = await openSocket(wsUrl(served.url, "/watched"));
    expect(await s.next()).toBe("ready");
    s.send("ping");
    expect(await s.next()).toBe("ping");
    expect((await serve.status()).applications["ws-watched"]!.numOngoingWebsockets).toBe(1);
    s.ws.close(4001, "done here");
    await closedWithin(s);
    await eventually(() => Atomics.load(counts, 0) === 1 && Atomics.load(counts, 1) === 1);
    await eventually(async () => (await serve.status()).applications["ws-watched"]!.numOngoingWebsockets === 0);
  });

  test("an ingress without websocket() refuses the upgrade with 404 and says what to add", async () => {
    await using _ = await deployed(PathEcho.bind("plain"), { name: "ws-none", routePrefix: "/none" });
    const res = await fetch(served.url + "/none", { headers: { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" } });
    expect(res.status).toBe(404);
    expect(await res.text()).toContain("async *websocket(messages, request)");
    const err = await openSocket(wsUrl(served.url, "/none")).then(() => undefined, (e: Error) => e);
    expect(err?.message).toContain("404");
    // A refused upgrade frees its request slot: more of them than maxOngoingRequests (5), then
    // HTTP to the same replica is still served.
    for (let i = 0; i < 8; i++) expect((await fetch(served.url + "/none", { headers: { upgrade: "websocket" } })).status).toBe(404);
    expect(await (await fetch(served.url + "/none/x", { signal: AbortSignal.timeout(5000) })).text()).toBe("plain /x");
  });

  test("an upgrade under no route prefix is a 404", async () => {
    await using _ = await deployed(Echo.bind(), { name: "ws-prefix", routePrefix: "/only" });
    const res = await fetch(served.url + "/elsewhere", { headers: { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" } });
    expect(res.status).toBe(404);
    expect(await res.text()).toStartWith("Path '/elsewhere' not found.");
  });

  test("plain HTTP to the same app still works", async () => {
    await using _ = await deployed(PathEcho.bind("both"), { name: "ws-http", routePrefix: "/both" });
    expect(await (await fetch(served.url + "/both/x")).text()).toBe("both /x");
  });
});
