import pino, { type Logger } from "pino";

export type { Logger };

/**
 * Creates the agent's logger: JSON lines (pino) on stderr, so stdout stays free for command
 * output and `--json`. `LOG_LEVEL` overrides the level (trace…fatal, silent).
 *
 * @param name Component name, e.g. "provider" or "client".
 * @param level Default level when LOG_LEVEL is unset.
 * @param destination Optional file path; logs go there instead of stderr (appended, synchronous
 * writes so a kill -9 loses at most the line being written).
 */
export function createLogger(name: string, level = "info", destination?: string): Logger {
  const stream = destination ? pino.destination({ dest: destination, sync: true, mkdir: true }) : pino.destination(2);
  return pino({ name, level: process.env.LOG_LEVEL ?? level, base: { pid: process.pid } }, stream);
}

/** A logger that drops everything (libraries used without a daemon). */
export const silentLogger: Logger = pino({ level: "silent" });
