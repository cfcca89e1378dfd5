// WebSockets and the replica's life: death, graceful drain, message size limit.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { serve } from "tsserve";
import { eventually } from "../harness.ts";
import { Echo, Forever } from "../fixtures/websockets.ts";
import { closedWithin, openSocket, wsUrl } from "./client.ts";

let url: string;
beforeAll(async () => {
  await serve.shutdown();
  // A small message limit, so the 1009 test sends little.
  url = (await serve.start({ http: { host: "127.0.0.1", port: 0, maxWebSocketMessageBytes: 64 * 1024 } })).httpUrl;
});
afterAll(async () => {
  await serve.shutdown();
});

describe("websocket lifecycle", () => {
  test("a replica that dies closes its sockets with 1011 and is replaced", async () => {
    await serve.run(Forever.bind(), { name: "wl-die", routePrefix: "/die" });
    try {
      await using victim = await openSocket(wsUrl(url, "/die"));
      const replica = await victim.next();
      victim.send("crash");
      expect(await closedWithin(victim, 10_000)).toMatchObject({ code: 1011 });
      // A new socket is served by the replacement.
      const fresh = await eventually(async () => {
        try {
          const s = await openSocket(wsUrl(url, "/die"));
          const id = await s.next();
          s.ws.close();
          return id !== replica ? id : undefined;
        } catch {
          return undefined;
        }
      }, 20_000);
      expect(fresh).not.toBe(replica);
    } finally {
      await serve.delete("wl-die");
    }
  });

  test("a drain lets open sockets go on until gracefulShutdownTimeoutMs, then closes them with 1001", async () => {
    await serve.run(Forever.bind(), { name: "wl-drain", routePrefix: "/drain" });
    await using s = await openSocket(wsUrl(url, "/drain"));
    await s.next();
    const deleting = serve.delete("wl-drain");
    // Still served while the replica drains (gracefulShutdownTimeoutMs is 300 ms).
    s.send("still here");
    expect(await s.next()).toBe("still here");
    expect(await closedWithin(s)).toMatchObject({ code: 1001 });
    await deleting;
  });

  test("a client message over maxWebSocketMessageBytes closes the socket with 1009", async () => {
    await serve.run(Echo.bind(), { name: "wl-big", routePrefix: "/big" });
    try {
      await using s = await openSocket(wsUrl(url, "/big"));
      await s.next();
      s.send("x".repeat(60 * 1024));
      expect(await s.next()).toHaveLength(5 + 60 * 1024);
      s.send("x".repeat(65 * 1024));
      expect(await closedWithin(s)).toMatchObject({ code: 1009 });
    } finally {
      await serve.delete("wl-big");
    }
  });

  test("serve.start() rejects a bad maxWebSocketMessageBytes, naming it", async () => {
    await serve.shutdown();
    const err = await serve.start({ http: { port: 0, maxWebSocketMessageBytes: 0 } }).then(() => undefined, (e: Error) => e);
    expect(err?.name).toBe("TypeError");
    expect(err?.message).toContain("http.maxWebSocketMessageBytes must be an integer >= 1");
    url = (await serve.start({ http: { host: "127.0.0.1", port: 0, maxWebSocketMessageBytes: 64 * 1024 } })).httpUrl;
  });

  test("while the instance drains (shutdown), an upgrade gets 503 and open sockets close with 1001", async () => {
    await serve.run(Forever.bind(), { name: "wl-shutdown", routePrefix: "/sd" });
    await using s = await openSocket(wsUrl(url, "/sd"));
    await s.next();
    const stopping = serve.shutdown();
    const res = await fetch(url + "/sd", { headers: { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" } });
    expect(res.status).toBe(503);
    expect(await res.text()).toContain("shutting down");
    expect(await closedWithin(s)).toMatchObject({ code: 1001 });
    await stopping;
    url = (await serve.start({ http: { host: "127.0.0.1", port: 0, maxWebSocketMessageBytes: 64 * 1024 } })).httpUrl;
  });
});
