// examples/chat.ts: the chat example over Bun's WebSocket, and in Chromium through its own page.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { startServe, type Served } from "../harness.ts";
import { deployed } from "../fixtures/scope.ts";
import * as chat from "../../examples/chat.ts";
import { closedWithin, openSocket, wsUrl } from "./client.ts";

let served: Served;
beforeAll(async () => {
  served = await startServe();
});
afterAll(async () => {
  await served[Symbol.asyncDispose]();
});

test("the chat example streams each answer token by token and closes with 1000 on bye", async () => {
  await using _ = await deployed(chat.app, { name: "ex-chat", routePrefix: "/" });
  await using s = await openSocket(wsUrl(served.url, "/chat"), { "x-request-id": "chat-1" });
  expect(JSON.parse((await s.next()) as string)).toEqual({ type: "hello", requestId: "chat-1" });
  for (const said of ["hello there", "and again"]) {
    s.send(said);
    const tokens: string[] = [];
    for (;;) {
      const event = JSON.parse((await s.next()) as string);
      if (event.type === "done") break;
      expect(event.type).toBe("token");
      tokens.push(event.token);
    }
    expect(tokens.length).toBe(said.split(" ").length + 2);
    expect(tokens.join("").trim()).toBe(`You said: ${said}`);
  }
  s.send("bye");
  expect(await closedWithin(s)).toEqual({ code: 1000, reason: "" });
});

const CHROMIUM = "/usr/bin/chromium";

// Debian's chromium (apt-get install -y chromium), driven by playwright-core.
test.skipIf(!existsSync(CHROMIUM))("a Chromium page chats with the ingress through the proxy", async () => {
  await using _ = await deployed(chat.app, { name: "ex-chat-browser", routePrefix: "/" });
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    timeout: 20_000,
  });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    await page.goto(`${served.url}/`, { timeout: 10_000 });
    await page.waitForSelector("body[data-state=open]", { timeout: 10_000 });
    for (const said of ["hi from chromium", "second message"]) {
      await page.fill("#text", said);
      await page.click("button");
      await page.waitForSelector(`p.bot[data-done=true] >> nth=${said === "hi from chromium" ? 0 : 1}`, { timeout: 10_000 });
    }
    const answers = await page.$$eval("p.bot", (ps) => ps.map((p) => p.textContent?.trim()));
    expect(answers).toEqual(["You said: hi from chromium", "You said: second message"]);
    await page.fill("#text", "bye");
    await page.click("button");
    await page.waitForSelector("body[data-state='closed 1000']", { timeout: 10_000 });
    expect(errors).toEqual([]);
  } finally {
    await browser.close();
  }
}, 60_000);
