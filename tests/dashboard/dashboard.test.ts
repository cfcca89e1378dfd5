/** The dashboard in a real browser (Debian's chromium through playwright-core), and the admin API's /metrics. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser } from "playwright-core";
import { serve } from "tsserve";
import { app as observedApp } from "../fixtures/observed.ts";
import { launchChromium } from "./browser.ts";
import { startInstance } from "./instance.ts";
import { METRICS_CONTENT_TYPE } from "../../runtime/admin/index.ts";
import { parseMetrics, total } from "../metrics/parse.ts";
import { logger } from "../../runtime/log/logger.ts";

let browser: Browser & AsyncDisposable;
beforeAll(async () => {
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await serve.shutdown();
});

describe("dashboard", () => {
  test("with the token from the URL fragment it shows the app, its deployments, replicas, charts and logs, without console errors", async () => {
    await using inst = await startInstance();
    await serve.run(observedApp, { name: "dash", routePrefix: "/dash" });
    const requests: string[] = [];
    const context = await browser.newContext();
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("console", (m) => void (m.type() === "error" && problems.push(m.text())));
    page.on("pageerror", (e) => void problems.push(e.message));
    page.on("request", (r) => void requests.push(r.url()));
    await page.goto(`${inst.adminUrl}/#token=${encodeURIComponent(inst.token)}`);
    await page.waitForSelector('#apps tr[data-app="dash"]', { timeout: 15_000 });
    expect(await page.locator('#apps tr[data-app="dash"] td').allTextContents()).toEqual(["dash", "RUNNING", "/dash", ""]);
    expect(await page.textContent('#deployments tr[data-deployment="dash/Echo"]')).toContain("HEALTHY");
    expect(await page.textContent('#deployments tr[data-deployment="dash/Front"]')).toContain("1 running");
    const replicas = await page.locator("#replicas tbody tr").allTextContents();
    expect(replicas).toHaveLength(3);
    for (const r of replicas) expect(r).toMatch(/^dash#(Echo|Front)#\S+RUNNING0$/);
    // Traffic while the page watches: the app's charts appear, and its access and replica logs.
    for (let n = 0; n < 20; n++) await (await fetch(`${inst.httpUrl}/dash?n=${n}`, { headers: { "x-request-id": `dash-${n}` } })).text();
    await page.waitForSelector('[data-chart-app="dash"] canvas', { timeout: 15_000 });
    expect(await page.locator('[data-chart-app="dash"] .uplot').count()).toBe(2);
    // The fragment is gone from the address bar and never reached the server.
    expect(page.url()).toBe(`${inst.adminUrl}/`);
    expect(requests.every((u) => !u.includes("token"))).toBe(true);
    expect(problems).toEqual([]);
    await context.close();
  }, 60_000);

  test("the log table filters by application, deployment and request id", async () => {
    logger.toStderr = false; // the records are read from the page
    using _restore = { [Symbol.dispose]: () => void (logger.toStderr = true) };
    await using inst = await startInstance();
    await serve.shutdown();
    await serve.start({ http: { port: Number(new URL(inst.httpUrl).port) }, logging: { logLevel: "info", enableAccessLog: true } });
    await serve.run(observedApp, { name: "dlog", routePrefix: "/dlog" });
    for (let n = 0; n < 5; n++) await (await fetch(`${inst.httpUrl}/dlog?n=${n}`, { headers: { "x-request-id": `dlog-${n}` } })).text();
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${inst.adminUrl}/#token=${encodeURIComponent(inst.token)}`);
    await page.waitForSelector("#logs tbody tr", { timeout: 15_000 });
    await page.fill("#f-request", "dlog-3");
    const rows = await page.locator("#logs tbody tr").allTextContents();
    // Front's record, Echo's record, and the access record of that one request.
    expect(rows).toHaveLength(3);
    expect(rows.every((r) => r.includes("dlog-3"))).toBe(true);
    await page.fill("#f-deployment", "Echo");
    expect(await page.locator("#logs tbody tr").allTextContents()).toEqual([expect.stringContaining("echo 3")]);
    await page.fill("#f-request", "");
    await page.fill("#f-app", "nope");
    expect(await page.locator("#logs tbody tr").count()).toBe(0);
    await context.close();
  }, 60_000);

  test("without a token it asks for one and shows no data; a wrong one is refused", async () => {
    await using inst = await startInstance();
    await serve.run(observedApp, { name: "dash2", routePrefix: "/dash2" });
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${inst.adminUrl}/`);
    await page.waitForSelector("#login", { state: "visible", timeout: 15_000 });
    expect(await page.isHidden("#main")).toBe(true);
    expect(await page.locator("#apps tbody tr").count()).toBe(0);
    expect(await page.content()).not.toContain("dash2");
    await page.fill("#token", "wrong");
    await page.click("#login button");
    await page.waitForSelector("#login-error:has-text('refused')", { timeout: 15_000 });
    expect(await page.isHidden("#main")).toBe(true);
    // The data endpoint itself needs the token.
    expect((await fetch(`${inst.adminUrl}/api/dashboard`)).status).toBe(401);
    await context.close();
  }, 60_000);
});

describe("dashboard data under load", () => {
  test("a dozen pollers and scrapers while a thousand of requests flow: every answer is whole and the counts add up", async () => {
    await using inst = await startInstance();
    await serve.run(observedApp, { name: "dl", routePrefix: "/dl" });
    const auth = { authorization: `Bearer ${inst.token}` };
    let traffic = true;
    const pollers = Array.from({ length: 12 }, async (_, i) => {
      let polls = 0;
      while (traffic) {
        const res = await fetch(`${inst.adminUrl}/${i % 2 ? "api/dashboard" : "metrics"}`, { headers: auth });
        expect(res.status).toBe(200);
        if (i % 2) expect(((await res.json()) as { status: { applications: Record<string, unknown> } }).status.applications.dl).toBeDefined();
        else parseMetrics(await res.text());
        polls++;
      }
      return polls;
    });
    const callers = 30;
    const each = 40;
    await Promise.all(
      Array.from({ length: callers }, async (_, c) => {
        for (let i = 0; i < each; i++) await (await fetch(`${inst.httpUrl}/dl?n=${100 + c * 100 + i}`)).arrayBuffer();
      }),
    );
    traffic = false;
    expect((await Promise.all(pollers)).every((n) => n > 0)).toBe(true);
    const samples = parseMetrics(await (await fetch(`${inst.adminUrl}/metrics`, { headers: auth })).text());
    expect(total(samples, "tsserve_num_http_requests_total", { application: "dl", status_code: "200" })).toBe(callers * each);
    expect(total(samples, "tsserve_deployment_request_counter_total", { application: "dl", deployment: "Echo" })).toBe(callers * each);
  }, 60_000);
});

describe("admin API /metrics", () => {
  test("answers the Prometheus text format with the bearer token, 401 without", async () => {
    await using inst = await startInstance();
    await serve.run(observedApp, { name: "am", routePrefix: "/am" });
    for (let n = 0; n < 3; n++) await (await fetch(`${inst.httpUrl}/am?n=${n}`)).text();
    expect((await fetch(`${inst.adminUrl}/metrics`)).status).toBe(401);
    const res = await fetch(`${inst.adminUrl}/metrics`, { headers: { authorization: `Bearer ${inst.token}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe(METRICS_CONTENT_TYPE);
    const samples = parseMetrics(await res.text());
    expect(total(samples, "tsserve_num_http_requests_total", { application: "am", status_code: "200" })).toBe(3);
    expect(total(samples, "tsserve_deployment_request_counter_total", { application: "am", deployment: "Echo" })).toBe(3);
    // Scrapes are not counted as HTTP traffic.
    await fetch(`${inst.adminUrl}/metrics`, { headers: { authorization: `Bearer ${inst.token}` } });
    const again = parseMetrics(await (await fetch(`${inst.adminUrl}/metrics`, { headers: { authorization: `Bearer ${inst.token}` } })).text());
    expect(total(again, "tsserve_num_http_requests_total", { application: "am" })).toBe(3);
  });
});
