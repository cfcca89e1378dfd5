/** The instance's logging settings, checked in one place (serve.start, config files, the CLI). */
import type { LoggingSettings } from "../../sdk/runtime.ts";
import { validateLogging } from "../../sdk/options.ts";
import { logger, parseEncoding } from "./logger.ts";

/** Checks `logging` (a message naming `where` and the allowed values) and applies it in place. */
export function applyLogging(logging: LoggingSettings, where: string): void {
  validateLogging(logging, where, ["encoding"]);
  const encoding = logging.encoding === undefined ? undefined : parseEncoding(String(logging.encoding), `${where}.encoding`);
  logger.configure({ encoding, logLevel: logging.logLevel, enableAccessLog: logging.enableAccessLog });
}
