/**
 * Typed errors shared by every agent.
 *
 * Every error the project throws on purpose is a {@link RepairMarketError}: it carries a
 * one-line `shortMessage` for users, `details` with the numbers and names needed to act on it
 * (which provider, which piece, which stage), and the underlying `cause`. Subclasses set a
 * literal `name`, so callers can branch on `err.name` or `instanceof`. Modelled on viem's
 * BaseError.
 */

/** Structured context attached to an error; values must be JSON-serialisable. */
export type ErrorDetails = Record<string, string | number | boolean | bigint | null | undefined>;

/** Options accepted by every {@link RepairMarketError}. */
export interface RepairMarketErrorOptions {
  /** Names and numbers that explain the failure (provider, pieceCid, stage, expected/actual). */
  details?: ErrorDetails;
  /** The lower-level error that caused this one. */
  cause?: unknown;
}

/** Base class of all project errors. */
export class RepairMarketError extends Error {
  override name = "RepairMarketError";
  /** One line, suitable for a CLI or a log message. */
  readonly shortMessage: string;
  /** Context needed to act on the error. */
  readonly details: ErrorDetails;

  /**
   * @param shortMessage One-line summary.
   * @param options Details and cause.
   */
  constructor(shortMessage: string, options: RepairMarketErrorOptions = {}) {
    super(formatMessage(shortMessage, options), { cause: options.cause });
    this.shortMessage = shortMessage;
    this.details = options.details ?? {};
  }

  /** A JSON-friendly view (bigints become decimal strings). */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      shortMessage: this.shortMessage,
      details: Object.fromEntries(
        Object.entries(this.details).map(([k, v]) => [k, typeof v === "bigint" ? v.toString() : v]),
      ),
      cause: this.cause instanceof Error ? this.cause.message : this.cause,
    };
  }
}

function formatMessage(shortMessage: string, options: RepairMarketErrorOptions): string {
  const entries = Object.entries(options.details ?? {}).filter(([, v]) => v !== undefined);
  const lines = [shortMessage];
  if (entries.length > 0) {
    lines.push(entries.map(([k, v]) => `  ${k}: ${String(v)}`).join("\n"));
  }
  if (options.cause instanceof Error) lines.push(`  cause: ${options.cause.message}`);
  return lines.join("\n");
}

/** An argument is outside what the function accepts (size, index, format). */
export class InvalidArgumentError extends RepairMarketError {
  override name = "InvalidArgumentError" as const;
}

/** A call came in an order the object does not allow (a hasher used after its digest), or an invariant broke. */
export class InvalidStateError extends RepairMarketError {
  override name = "InvalidStateError" as const;
}
