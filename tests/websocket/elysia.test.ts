// WebSockets to an Elysia ingress's `.ws()` routes, run inside the replica as in plain Elysia.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startServe, type Served } from "../harness.ts";
import { deployed } from "../fixtures/scope.ts";
import { ElysiaChat, ElysiaField, ElysiaFlood } from "../fixtures/websockets.ts";
import { slowRead } from "./slow_reader.ts";
import { closedWithin, openSocket, wsUrl } from "./client.ts";

let served: Served;
beforeAll(async () => {
  served = await startServe();
});
afterAll(async () => {
  await served[Symbol.asyncDispose]();
});

describe("Elysia .ws() routes", () => {
  test("open, message (text, JSON, binary) and send work as in plain Elysia", async () => {
    await using _ = await deployed(ElysiaChat.bind(), { name: "el-basic", routePrefix: "/el" });
    await using s = await openSocket(wsUrl(served.url, "/el/chat/lobby"));
    expect(await s.next()).toBe("joined lobby from 127.0.0.1");
    s.send("hi");
    expect(await s.next()).toBe("you said hi");
    s.send('{"x":1}');
    expect(await s.next()).toBe('{"got":{"x":1}}');
    s.send(new Uint8Array([1, 2, 3]));
    expect(await s.next()).toEqual(new Uint8Array([3, 2, 1]));
  });

  test("ws.close(code, reason) in a handler closes the client with that code", async () => {
    await using _ = await deployed(ElysiaChat.bind(), { name: "el-close", routePrefix: "/el" });
    await using s = await openSocket(wsUrl(served.url, "/el/chat/a"));
    await s.next();
    s.send("close");
    expect(await closedWithin(s)).toEqual({ code: 4000, reason: "asked to" });
  });

  test("subscribe and publish reach the other sockets of the replica; close runs the close handler", async () => {
    await using _ = await deployed(ElysiaChat.bind(), { name: "el-pubsub", routePrefix: "/el" });
    await using a = await openSocket(wsUrl(served.url, "/el/chat/room1"));
    await using b = await openSocket(wsUrl(served.url, "/el/chat/room1"));
    expect(await a.next()).toBe("joined room1 from 127.0.0.1");
    expect(await b.next()).toBe("joined room1 from 127.0.0.1");
    a.send("hello");
    expect(await a.next()).toBe("you said hello");
    expect(await b.next()).toBe("room1: hello");
    a.ws.close(1000);
    expect(await b.next()).toBe("left with 1000");
  });

  test("a path with no ws route is refused with Elysia's 404; HTTP routes still answer", async () => {
    await using _ = await deployed(ElysiaChat.bind(), { name: "el-404", routePrefix: "/el" });
    const res = await fetch(served.url + "/el/nope", { headers: { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" } });
    expect(res.status).toBe(404);
    expect(res.headers.get("x-request-id")).toBeTruthy();
    expect(await (await fetch(served.url + "/el/hello")).text()).toBe("plain http");
  });

  test("an Elysia app as a class's fetch field serves .ws() too; the client's close code reaches the close handler", async () => {
    await using _ = await deployed(ElysiaField.bind(), { name: "el-field", routePrefix: "/field" });
    await using a = await openSocket(wsUrl(served.url, "/field/room"));
    await using b = await openSocket(wsUrl(served.url, "/field/room"));
    a.send("x");
    expect(await b.next()).toBe("heard x");
    a.ws.close(4001, "my reason");
    expect(await b.next()).toBe("closed 4001 my reason");
  });

  test("a slow client makes ws.send answer -1 and drain follow, and every message arrives in order", async () => {
    await using _ = await deployed(ElysiaFlood.bind(), { name: "el-flood", routePrefix: "/flood" });
    const N = 20_000;
    const read = await slowRead(served.url, `/flood/flood?n=${N}&size=1000`, { bytesPerTick: 256 * 1024, tickMs: 5, timeoutMs: 30_000 });
    expect(read.closeCode).toBe(1000);
    expect(read.messages.length).toBe(N + 1);
    for (let i = 0; i < N; i++) if (parseInt(read.messages[i]!, 10) !== i) throw new Error(`message ${i} was ${read.messages[i]!.slice(0, 20)}`);
    const waits = Number(read.messages[N]!.slice("waits=".length));
    expect(waits).toBeGreaterThan(0);
  }, 60_000);
});
