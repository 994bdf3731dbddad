import pino from "pino";
import type { Logger } from "../core/logger";
import { RepairMarketError } from "../core/errors";

/** Attempt outcome (seed 004). */
export type AttemptStatus = "success" | "failure";

/**
 * One dealbot attempt, written as one JSON line (seed 004 "User workflow example"): what was
 * tried, how far it got, why it failed, the tail of the bot's log, the versions involved and
 * structured timings. Amounts are token base units as decimal strings; times are ms.
 */
export interface DealbotRecord {
  kind: "storage" | "retrieval";
  status: AttemptStatus;
  /** The stage the attempt failed in (e.g. "propose", "transfer", "verify"); absent on success. */
  failedAt?: string;
  /** "Recv: N B, Paid X, <Event> (<Status>)", in order. */
  eventList: string[];
  errorMessage?: string;
  /** The bot's last log lines (JSON lines) at the end of the attempt. */
  tailLog: string;
  /** Deal parameters: the seed's storageDealParameters, by our names. */
  dealParameters: {
    provider: string;
    pieceCid?: string;
    droot?: string;
    sha256?: string;
    sizeInBytes?: number;
    dealId?: string;
    durationEpochs?: string;
    pricePerEpoch?: string;
    /**
     * Seed 004's Filecoin Plus flag: always false here — this market has no datacap or verified
     * clients; every deal is paid at the provider's ask.
     */
    verified?: false;
    /**
     * Seed 004's fast-retrieval flag (keep an unsealed copy): always false here — nothing is
     * sealed, providers serve the very bytes they prove, so there is no extra copy to ask for.
     */
    fastRetrievalFlag?: false;
  };
  /** Token base units paid (retrieval) or committed per epoch (storage). */
  paid: string;
  bytesTransferred: number;
  timings: {
    /** Attempt start to the first byte of data moved, ms. */
    timeToFirstByteMs?: number;
    /** Attempt start to the last byte of data moved, ms. */
    timeToLastByteMs?: number;
    /** End of transfer to the deal's publication on chain (storage), ms. */
    onChainConfirmationMs?: number;
    totalMs: number;
  };
  /** Milliseconds spent in each stage that was entered. */
  stageMs: Record<string, number>;
  softwareVersion: string;
  chain: { chainId: number; clientVersion: string };
  /** When the attempt started, ISO 8601 UTC. */
  datetime: string;
}

/** A stage took longer than its timeout, or stopped making progress. */
export class StageTimeoutError extends RepairMarketError {
  override name = "StageTimeoutError" as const;
  constructor(
    readonly stage: string,
    readonly reason: "timeout" | "stalled",
    readonly ms: number,
  ) {
    super(
      reason === "timeout"
        ? `stage "${stage}" took longer than ${ms} ms`
        : `stage "${stage}" made no progress for ${ms} ms`,
    );
  }
}

/** Per-stage limits, ms: total time in the stage, and time without progress within it. */
export interface StageLimits {
  timeoutMs: Record<string, number>;
  /** No progress (bytes or events) for this long fails the current stage. */
  stallMs: number;
  /** Stages that wait on the chain rather than on a peer: only their timeout applies. */
  stallExempt?: string[];
}

/**
 * Builds one {@link DealbotRecord} while an attempt runs and enforces its stage limits: the
 * attempt moves from stage to stage with {@link enter}; {@link progress} marks activity; a
 * watchdog aborts {@link signal} when a stage overruns or stalls, so an attempt never hangs.
 */
export class AttemptRecorder {
  readonly logger: Logger;
  readonly signal: AbortSignal;
  private readonly controller = new AbortController();
  private readonly started = Date.now();
  private readonly lines: string[] = [];
  private readonly events: string[] = [];
  private readonly stageMs: Record<string, number> = {};
  private stage = "start";
  private stageStarted = Date.now();
  private lastProgress = Date.now();
  private timedOut?: StageTimeoutError;
  private readonly watchdog: NodeJS.Timeout;
  private firstByteAt?: number;
  private lastByteAt?: number;
  bytes = 0;
  paid = 0n;

  constructor(
    readonly kind: DealbotRecord["kind"],
    private readonly limits: StageLimits,
    echo?: (line: string) => void,
    private readonly tailLines = 40,
  ) {
    this.signal = this.controller.signal;
    this.logger = pino(
      { name: `dealbot-${kind}`, level: process.env.LOG_LEVEL ?? "debug", base: { pid: process.pid } },
      {
        write: (line: string) => {
          this.lines.push(line.trimEnd());
          if (this.lines.length > this.tailLines) this.lines.shift();
          echo?.(line);
        },
      },
    );
    this.watchdog = setInterval(() => this.check(), 100);
    this.watchdog.unref();
  }

  /** The stage the attempt is in now. */
  get current(): string {
    return this.stage;
  }

  /** Enters `stage` (its timeout starts now). */
  enter(stage: string): void {
    this.closeStage();
    this.stage = stage;
    this.stageStarted = Date.now();
    this.lastProgress = Date.now();
    this.logger.debug({ stage }, "stage entered");
  }

  /** Records an event line and counts as progress. */
  event(line: string): void {
    this.events.push(line);
    this.lastProgress = Date.now();
    this.logger.info({ stage: this.stage, event: line }, "event");
  }

  /** Seed 004's event line from the recorder's own counters. */
  eventOf(event: string, status: string): void {
    this.event(`Recv: ${this.bytes} B, Paid ${this.paid}, ${event} (${status})`);
  }

  /** `n` more bytes moved (counts as progress; first and last byte times). */
  moved(n: number): void {
    if (n <= 0) return;
    const now = Date.now();
    this.firstByteAt ??= now;
    this.lastByteAt = now;
    this.bytes += n;
    this.lastProgress = now;
  }

  /** Marks activity without bytes (e.g. a status poll that answered). */
  progress(): void {
    this.lastProgress = Date.now();
  }

  /**
   * Races `work` against the stage watchdog.
   *
   * @throws StageTimeoutError when the current stage overran or stalled first.
   */
  async guard<T>(work: Promise<T>): Promise<T> {
    if (this.timedOut) throw this.timedOut;
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(this.timedOut ?? new Error("attempt aborted"));
      this.signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      return await Promise.race([work, aborted]);
    } finally {
      if (onAbort) this.signal.removeEventListener("abort", onAbort);
      work.catch(() => undefined); // a raced-out operation may still fail later
    }
  }

  private check(): void {
    if (this.timedOut) return;
    const now = Date.now();
    const limit = this.limits.timeoutMs[this.stage];
    if (limit !== undefined && now - this.stageStarted > limit) {
      this.timedOut = new StageTimeoutError(this.stage, "timeout", limit);
    } else if (!this.limits.stallExempt?.includes(this.stage) && now - this.lastProgress > this.limits.stallMs) {
      this.timedOut = new StageTimeoutError(this.stage, "stalled", this.limits.stallMs);
    }
    if (this.timedOut) {
      this.logger.warn({ stage: this.stage, err: this.timedOut.message }, "stage limit hit; aborting the attempt");
      this.controller.abort(this.timedOut);
    }
  }

  private closeStage(): void {
    this.stageMs[this.stage] = (this.stageMs[this.stage] ?? 0) + (Date.now() - this.stageStarted);
  }

  /** Ends the attempt and returns its record; `error` makes it a failure at the current stage. */
  finish(
    fields: {
      dealParameters: DealbotRecord["dealParameters"];
      onChainConfirmationMs?: number;
      softwareVersion: string;
      chain: DealbotRecord["chain"];
    },
    error?: unknown,
  ): DealbotRecord {
    clearInterval(this.watchdog);
    this.closeStage();
    const failed = error !== undefined;
    const failedAt = failed ? (error instanceof StageTimeoutError ? error.stage : this.stage) : undefined;
    if (failed) {
      this.logger.error({ stage: failedAt, err: (error as Error).message }, "attempt failed");
      this.eventOf(`ClientEventError`, `Failed at ${failedAt}`);
    }
    return {
      kind: this.kind,
      status: failed ? "failure" : "success",
      ...(failed ? { failedAt, errorMessage: errorText(error) } : {}),
      eventList: [...this.events],
      tailLog: this.lines.join("\n"),
      dealParameters: { ...fields.dealParameters, verified: false, fastRetrievalFlag: false },
      paid: this.paid.toString(),
      bytesTransferred: this.bytes,
      timings: {
        ...(this.firstByteAt !== undefined ? { timeToFirstByteMs: this.firstByteAt - this.started } : {}),
        ...(this.lastByteAt !== undefined ? { timeToLastByteMs: this.lastByteAt - this.started } : {}),
        ...(fields.onChainConfirmationMs !== undefined ? { onChainConfirmationMs: fields.onChainConfirmationMs } : {}),
        totalMs: Date.now() - this.started,
      },
      stageMs: { ...this.stageMs },
      softwareVersion: fields.softwareVersion,
      chain: fields.chain,
      datetime: new Date(this.started).toISOString(),
    };
  }
}

/** One line: the error's name and message, with the provider, stage and code it names. */
function errorText(error: unknown): string {
  const err = error as Error & { shortMessage?: string; details?: Record<string, unknown> };
  const message = err.shortMessage ?? String(err.message ?? error).split("\n")[0];
  const d = err.details ?? {};
  const context = [
    d.peer !== undefined ? `provider ${String(d.peer)}` : undefined,
    d.stage !== undefined ? `stage "${String(d.stage)}"` : undefined,
    d.code !== undefined ? `code ${String(d.code)}` : undefined,
  ].filter(Boolean);
  return `${err.name ?? "Error"}: ${message}${context.length ? ` (${context.join(", ")})` : ""}`;
}
