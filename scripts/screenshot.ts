/**
 * `npm run screenshot [-- --out docs/dashboard.png]`: starts an instance with an example app,
 * sends it traffic for a few chart samples (a few errors included), and writes the dashboard
 * as a PNG through Debian's chromium, for the README.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import { serve } from "tsserve";
import { app } from "../tests/fixtures/observed.ts";
import { launchChromium } from "../tests/dashboard/browser.ts";
import { startInstance } from "../tests/dashboard/instance.ts";
import { logger } from "../runtime/log/logger.ts";
import { SAMPLE_MS } from "../runtime/metrics/history.ts";

const { values } = parseArgs({ args: process.argv.slice(2), options: { out: { type: "string" } } });
const out = values.out ?? "docs/dashboard.png";

logger.toStderr = false;
await using inst = await startInstance();
await serve.shutdown();
await serve.start({ http: { port: Number(new URL(inst.httpUrl).port) }, logging: { logLevel: "info", enableAccessLog: true } });
await serve.run(app, { name: "shop", routePrefix: "/shop" });
await using browser = await launchChromium();
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
await page.goto(`${inst.adminUrl}/#token=${encodeURIComponent(inst.token)}`);
await page.waitForSelector('#apps tr[data-app="shop"]');

// Traffic for five samples: 8 callers, an error now and then (n = 13 throws).
const until = Date.now() + 5 * SAMPLE_MS + 500;
let n = 0;
await Promise.all(
  Array.from({ length: 8 }, async () => {
    while (Date.now() < until) {
      const i = n++;
      await (await fetch(`${inst.httpUrl}/shop?n=${i % 50}`, { headers: { "x-request-id": `shot-${i}` } })).arrayBuffer();
      await Bun.sleep(5);
    }
  }),
);
await page.waitForSelector('[data-chart-app="shop"] canvas');
await Bun.sleep(SAMPLE_MS + 200);
mkdirSync(dirname(out), { recursive: true });
await page.screenshot({ path: out, fullPage: true });
console.log(`wrote ${out} (${n} requests sent)`);
