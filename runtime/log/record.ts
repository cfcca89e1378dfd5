/** One log record, as every thread makes it and the main thread writes it (API.md section 9). */
import type { LogLevel } from "../../sdk/options.ts";

export type { LogLevel };

export interface LogRecord {
  /** Epoch milliseconds. */
  time: number;
  level: LogLevel;
  msg: string;
  application?: string;
  deployment?: string;
  replica?: string;
  requestId?: string;
  route?: string;
  /** Access log records: method, path, status, latencyMs. */
  [field: string]: unknown;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const LABEL: Record<LogLevel, string> = { debug: "DEBUG", info: "INFO", warn: "WARN", error: "ERROR" };

/** The ISO form of the current second, reused: formatting a Date for each record costs more than the rest of the line. */
let cachedSecond = -1;
let cachedPrefix = "";

function isoTime(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedPrefix = new Date(second * 1000).toISOString().slice(0, 20);
  }
  const frac = ms - second * 1000;
  return `${cachedPrefix}${frac < 10 ? "00" : frac < 100 ? "0" : ""}${Math.floor(frac)}Z`;
}

/** Whether a record at `level` passes a threshold of `min`. */
export const passes = (level: LogLevel, min: LogLevel): boolean => RANK[level] >= RANK[min];

/**
 * The text form: `LEVEL time application/deployment replica request_id message`, leaving out
 * the parts that do not apply; access log records end with their status and latency.
 */
export function textLine(r: LogRecord): string {
  let line = `${LABEL[r.level]} ${isoTime(r.time)}`;
  if (r.application) line += r.deployment ? ` ${r.application}/${r.deployment}` : ` ${r.application}`;
  if (r.replica) line += ` ${r.replica}`;
  if (r.requestId) line += ` ${r.requestId}`;
  return `${line} ${r.msg}\n`;
}
