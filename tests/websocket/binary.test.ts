// WebSockets from the compiled binary: a class websocket() and an Elysia .ws() route in an app
// directory with no node_modules ("elysia" inside the replica is the binary's own copy).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { binary, cleanup, cliEnv, spawnCli, tempDir, urls } from "../cli/helpers.ts";
import { closedWithin, openSocket, wsUrl } from "./client.ts";

beforeAll(async () => {
  await binary();
}, 60_000);
afterAll(cleanup);

const APP = `import { serve } from "tsserve";
import { Elysia } from "elysia";

export const Shout = serve.deployment(class Shout {
  async *websocket(messages: AsyncIterable<string | Uint8Array>) {
    for await (const m of messages) yield typeof m === "string" ? m.toUpperCase() : m;
  }
});

const roomsApp = new Elysia().ws("/room/:name", {
  open(ws) { ws.send("joined " + ws.data.params.name); },
  message(ws, m) { ws.send("echo " + m); },
});
export const Rooms = serve.deployment(serve.ingress(roomsApp), { name: "Rooms" });
`;

test("the binary relays sockets to a class websocket() and to Elysia .ws() routes, and SIGTERM closes them with 1001", async () => {
  const dir = tempDir("ws-app");
  writeFileSync(
    join(dir, "serve.yaml"),
    "http:\n  maxWebSocketMessageBytes: 4096\napplications:\n  - name: shout\n    routePrefix: /shout\n    importPath: ./ws.ts:shout\n    deployments:\n      - name: Shout\n        gracefulShutdownTimeoutMs: 300\n  - name: rooms\n    routePrefix: /rooms\n    importPath: ./ws.ts:rooms\n",
  );
  writeFileSync(join(dir, "ws.ts"), `${APP}\nexport const shout = () => Shout.bind();\nexport const rooms = () => Rooms.bind();\n`);
  await using r = await spawnCli(["run", "serve.yaml", "--port", "0", "--admin-port", "0"], { cwd: dir, env: cliEnv(tempDir("home")) });
  const { http } = await urls(r);
  await using a = await openSocket(wsUrl(http, "/shout"));
  a.send("hello");
  expect(await a.next()).toBe("HELLO");
  a.send(new Uint8Array([7, 8]));
  expect(await a.next()).toEqual(new Uint8Array([7, 8]));
  // The config's http.maxWebSocketMessageBytes (4096) holds.
  await using big = await openSocket(wsUrl(http, "/shout"));
  big.send("x".repeat(5000));
  expect((await closedWithin(big)).code).toBe(1009);
  await using b = await openSocket(wsUrl(http, "/rooms/room/kitchen"));
  expect(await b.next()).toBe("joined kitchen");
  b.send("hi");
  expect(await b.next()).toBe("echo hi");
  b.ws.close(1000);
  expect((await closedWithin(b)).code).toBe(1000);
  // SIGTERM drains: the open socket gets gracefulShutdownTimeoutMs (300 ms), then 1001; exit 0.
  r.proc.kill("SIGTERM");
  expect((await closedWithin(a, 10_000)).code).toBe(1001);
  expect(await r.exited()).toBe(0);
}, 90_000);
