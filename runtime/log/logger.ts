/**
 * The one logger: every record of the runtime and of replica code (replicas send theirs here,
 * see console.ts) is written by the main thread to stderr, text by default or one JSON object
 * per line, and the last 200 are kept for the dashboard.
 *
 * Invariant: lines never interleave mid-line, because one thread writes them all, each
 * record as one whole line. Lines leave in batches (FLUSH_MS, FLUSH_BYTES), each in one write,
 * through sonic-boom (pino's asynchronous destination) with a bounded buffer: a slow terminal
 * or pipe makes it drop records past `MAX_BUFFERED` bytes instead of blocking a request.
 *
 * Why not pino itself: measured here (Bun 1.4), pino took about 12 us per record and
 * JSON.stringify plus one write per turn about 1.5 us; the access log writes one record per
 * request, so pino alone would cost a third of the proxy's throughput.
 */
import { Buffer } from "node:buffer";
import { writeSync } from "node:fs";
import SonicBoom from "sonic-boom";
import { LOG_LEVELS, type LogLevel } from "../../sdk/options.ts";
import { type LogRecord, passes, textLine } from "./record.ts";

/** Bytes of log lines waiting for a slow stderr before new records are dropped. */
const MAX_BUFFERED = 16 * 1024 * 1024;
/**
 * Lines wait this long (or until FLUSH_BYTES are waiting) and leave in one write: at thousands
 * of requests a second, a write per event-loop turn cost the proxy a tenth of its throughput
 * (the asynchronous write is handed to another thread each time).
 */
const FLUSH_MS = 50;
const FLUSH_BYTES = 64 * 1024;
/** Records kept for the dashboard. */
export const RECENT = 200;

export type LogEncoding = "TEXT" | "JSON";

/** The instance's logging settings (`logging:` in a config, `--log-format`, TSSERVE_LOG_FORMAT). */
export interface InstanceLogging {
  encoding: LogEncoding;
  logLevel: LogLevel;
  enableAccessLog: boolean;
}

/**
 * The defaults, from the environment: TSSERVE_LOG_FORMAT=json (API.md), and TSSERVE_LOG_LEVEL
 * and TSSERVE_ACCESS_LOG=0 for processes that cannot pass a config (the test suite's preload).
 */
function defaults(): InstanceLogging {
  const env = process.env;
  const level = env.TSSERVE_LOG_LEVEL?.toLowerCase() as LogLevel | undefined;
  return {
    encoding: env.TSSERVE_LOG_FORMAT?.toLowerCase() === "json" ? "JSON" : "TEXT",
    logLevel: level && LOG_LEVELS.includes(level) ? level : "info",
    enableAccessLog: !["0", "false", "off"].includes(env.TSSERVE_ACCESS_LOG?.toLowerCase() ?? ""),
  };
}

export class Logger {
  readonly settings: InstanceLogging = defaults();
  /** The last RECENT records, oldest first from `#next`. */
  readonly #recent: LogRecord[] = [];
  #next = 0;
  #seq = 0;
  #fd = 2;
  #dest: SonicBoom | undefined;
  /** Lines of this turn, written together. */
  #pending = "";
  #scheduled = false;
  /** Records dropped because stderr could not keep up. */
  dropped = 0;
  /** Tests and tools may read records here. */
  readonly listeners = new Set<(r: LogRecord) => void>();
  /** Off: records reach the listeners and the dashboard only (a test that reads them keeps its output quiet). */
  toStderr = true;

  #destination(): SonicBoom {
    if (!this.#dest) {
      this.#dest = new SonicBoom({ fd: this.#fd, sync: false, minLength: 0, maxLength: MAX_BUFFERED });
      // A dropped record (stderr too slow) is the price of never blocking: counted, not reported.
      this.#dest.on("drop", () => void this.dropped++);
      this.#dest.on("error", () => {});
    }
    return this.#dest;
  }

  #exitHook = false;

  #timer: ReturnType<typeof setTimeout> | undefined;

  readonly #writePending = () => {
    clearTimeout(this.#timer);
    this.#scheduled = false;
    const lines = this.#pending;
    this.#pending = "";
    if (lines) this.#destination().write(lines);
  };

  /** Changes the instance's settings (in place: the next record uses them). */
  configure(settings: Partial<InstanceLogging>): void {
    if (settings.encoding !== undefined) this.settings.encoding = settings.encoding;
    if (settings.logLevel !== undefined) this.settings.logLevel = settings.logLevel;
    if (settings.enableAccessLog !== undefined) this.settings.enableAccessLog = settings.enableAccessLog;
  }

  /** Back to the defaults (a runtime that shuts down; the next start begins afresh). */
  reset(): void {
    Object.assign(this.settings, defaults());
  }

  /** Writes a record that passed its level already (replicas filter their own). */
  write(r: LogRecord): void {
    this.#recent[this.#next] = r;
    this.#next = (this.#next + 1) % RECENT;
    this.#seq++;
    for (const l of this.listeners) l(r);
    if (!this.toStderr) return;
    const line = this.settings.encoding === "JSON" ? `${JSON.stringify(r)}\n` : textLine(r);
    if (this.#pending.length + line.length > MAX_BUFFERED) return void this.dropped++;
    this.#pending += line;
    if (!this.#exitHook) {
      // Lines still waiting when the process exits (an error that ends a CLI run) are written then.
      this.#exitHook = true;
      process.once("exit", () => this.flush());
    }
    if (this.#pending.length >= FLUSH_BYTES) this.#writePending();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      this.#timer = setTimeout(this.#writePending, FLUSH_MS);
      // Lines still waiting at exit are written by the exit hook.
      (this.#timer as { unref?: () => void }).unref?.();
    }
  }

  /** A record of the runtime's own, if it passes the instance's level. */
  log(level: LogLevel, msg: string, fields: Omit<Partial<LogRecord>, "level" | "msg"> = {}): void {
    if (!passes(level, this.settings.logLevel)) return;
    this.write({ time: Date.now(), level, msg, ...fields });
  }

  info(msg: string, fields?: Omit<Partial<LogRecord>, "level" | "msg">): void {
    this.log("info", msg, fields);
  }

  warn(msg: string, fields?: Omit<Partial<LogRecord>, "level" | "msg">): void {
    this.log("warn", msg, fields);
  }

  error(msg: string, fields?: Omit<Partial<LogRecord>, "level" | "msg">): void {
    this.log("error", msg, fields);
  }

  /** The last records (up to 200), oldest first, and how many were ever written (to poll for new ones). */
  recent(): { records: LogRecord[]; total: number } {
    const records = this.#recent.length < RECENT ? this.#recent.slice() : [...this.#recent.slice(this.#next), ...this.#recent.slice(0, this.#next)];
    return { records, total: this.#seq };
  }

  /** Sends lines to `fd` instead of stderr (the bench writes them to /dev/null: the whole cost, without a terminal). */
  useFd(fd: number): void {
    this.flush();
    this.#fd = fd;
    this.#dest = undefined;
  }

  /**
   * Writes out what is buffered (at exit). What sonic-boom holds goes first; the lines still
   * waiting here are written directly, retrying while a non-blocking stderr pipe is full (EAGAIN):
   * an error that ends a CLI run must reach the terminal whole, its last lines included.
   */
  flush(): void {
    clearTimeout(this.#timer);
    this.#scheduled = false;
    const pending = this.#pending;
    this.#pending = "";
    try {
      this.#dest?.flushSync();
    } catch {
      // A write under way: what sonic-boom holds leaves with it.
    }
    if (pending) writeAllSync(this.#fd, pending);
  }
}

/** Writes all of `text` to `fd` now, waiting out EAGAIN for up to a second; gives up silently if the fd is gone. */
function writeAllSync(fd: number, text: string): void {
  let bytes = Buffer.from(text);
  const giveUpAt = Date.now() + 1000;
  while (bytes.length) {
    try {
      bytes = bytes.subarray(writeSync(fd, bytes));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EAGAIN" || Date.now() > giveUpAt) return;
    }
  }
}

/** The main thread's logger. */
export const logger = new Logger();

/** `--log-format` / `TSSERVE_LOG_FORMAT` / `logging.encoding` as an encoding, or an error naming the allowed values. */
export function parseEncoding(value: string, where: string): LogEncoding {
  const v = value.toUpperCase();
  if (v !== "TEXT" && v !== "JSON") throw new TypeError(`${where} must be json or text, got ${JSON.stringify(value)}`);
  return v;
}

export { LOG_LEVELS };
