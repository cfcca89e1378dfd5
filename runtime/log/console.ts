/**
 * Inside a replica: `console.log/info/warn/error/debug` become log records carrying the
 * application, deployment and replica, and the request id and route of the request they run
 * in (from the request context's AsyncLocalStorage). Records below the deployment's level are
 * dropped here; the rest go to the main thread's logger, all of one turn in one message.
 */
import { format } from "node:util";
import { requestScope } from "../../sdk/context.ts";
import type { LogLevel } from "../../sdk/options.ts";
import { type LogRecord, passes } from "./record.ts";

export interface ReplicaLogging {
  /** The deployment's level, changeable in place. */
  level: LogLevel;
}

const METHODS: [string, LogLevel][] = [
  ["log", "info"],
  ["info", "info"],
  ["warn", "warn"],
  ["error", "error"],
  ["debug", "debug"],
  ["trace", "debug"],
];

/** Replaces this thread's console; `send` carries a batch of records to the main thread. */
export function captureConsole(labels: { application: string; deployment: string; replica: string }, send: (records: LogRecord[]) => void, initial: LogLevel): ReplicaLogging {
  const settings: ReplicaLogging = { level: initial };
  let pending: LogRecord[] = [];
  const flush = () => {
    const batch = pending;
    pending = [];
    send(batch);
  };
  for (const [method, level] of METHODS) {
    (console as unknown as Record<string, (...args: unknown[]) => void>)[method] = (...args: unknown[]) => {
      if (!passes(level, settings.level)) return;
      const record: LogRecord = { time: Date.now(), level, msg: format(...args), ...labels };
      const ctx = requestScope.getStore();
      if (ctx) {
        record.requestId = ctx.requestId;
        if (ctx.route) record.route = ctx.route;
      }
      if (pending.push(record) === 1) queueMicrotask(flush);
    };
  }
  return settings;
}
