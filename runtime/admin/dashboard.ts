/**
 * The dashboard (API.md section 9): a static page with its script, styles and uPlot, all
 * imported as text so they are inside the binary (no CDN, no files beside it), and the data
 * it polls. The page and its assets need no token (they hold no data); `/api/dashboard`
 * needs the bearer token like the rest of the admin API.
 */
import page from "./dashboard/index.html" with { type: "text" };
// @ts-expect-error: a browser script, imported as its text (it has no types to declare).
import script from "./dashboard/dashboard.js" with { type: "text" };
import styles from "./dashboard/dashboard.css" with { type: "text" };
import uplotScript from "uplot/dist/uPlot.iife.min.js" with { type: "text" };
import uplotStyles from "uplot/dist/uPlot.min.css" with { type: "text" };
import type { ServeStatus } from "../../sdk/status.ts";
import { logger } from "../log/logger.ts";
import type { LogRecord } from "../log/record.ts";
import { type AppSeries, history } from "../metrics/history.ts";

export const DASHBOARD_DATA_PATH = "/api/dashboard";

const asset = (body: string, type: string) => () =>
  new Response(body, { headers: { "content-type": type, "cache-control": "no-cache", "x-content-type-options": "nosniff" } });

/** Paths served without a token: the page and its assets. */
export const DASHBOARD_ASSETS: Record<string, () => Response> = {
  "/": asset(page as unknown as string, "text/html; charset=utf-8"),
  "/dashboard/dashboard.js": asset(script as unknown as string, "text/javascript; charset=utf-8"),
  "/dashboard/dashboard.css": asset(styles as unknown as string, "text/css; charset=utf-8"),
  "/dashboard/uPlot.js": asset(uplotScript as unknown as string, "text/javascript; charset=utf-8"),
  "/dashboard/uPlot.min.css": asset(uplotStyles as unknown as string, "text/css; charset=utf-8"),
};

/** What the page polls: status (with each replica's ongoing requests), charts and the last log records. */
export interface DashboardData {
  time: number;
  status: ServeStatus;
  charts: Record<string, AppSeries>;
  logs: { records: LogRecord[]; total: number };
}

export async function dashboardData(status: () => Promise<ServeStatus>): Promise<DashboardData> {
  return { time: Date.now(), status: await status(), charts: history.read(), logs: logger.recent() };
}
