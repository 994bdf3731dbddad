import { runEvery, type Wakeup } from "./abort";

/**
 * What a daemon's periodic loops did last: every loop runs through {@link LoopHealth.run} (a
 * wrapper of `runEvery`), which records each round's success or failure, and skips rounds while
 * the daemon's gate says it must not act (a halted chain, an unreachable RPC endpoint). `/healthz`
 * shows the records and answers 503 when a loop has been failing for too long.
 */

/** One loop's record. Times are ms since the epoch. */
export interface LoopRecord {
  /** The loop's interval between rounds, ms. */
  intervalMs: number;
  /** End of the last round that succeeded; undefined before the first. */
  lastSuccessAt?: number;
  /** First line of the last failed round's error. */
  lastError?: string;
  lastErrorAt?: number;
  /** Rounds failed since the last success. */
  consecutiveFailures: number;
  /** Rounds skipped because the gate said not to act. */
  skippedRounds: number;
  /** A round is in progress. */
  running: boolean;
}

/** A loop that has been failing for longer than its bound (see {@link LoopHealth.stale}). */
export interface StaleLoop {
  name: string;
  /** ms since its last success (or since it was registered, when it never succeeded). */
  failingForMs: number;
  lastError?: string;
}

/** How {@link LoopHealth} judges a loop stale. */
export interface LoopHealthOptions {
  /** A loop is stale when its last round failed and it has not succeeded for this many intervals (default 5). */
  staleIntervals?: number;
  /** …and for at least this long, ms (default 60,000), so a fast loop is not stale after one slow RPC call. */
  minStaleMs?: number;
  /** Clock, ms since the epoch (default `Date.now`). */
  now?: () => number;
}

/** Options of {@link LoopHealth.run}. */
export interface LoopRunOptions {
  /** Lets another part start the next round at once (`runEvery`'s wakeup). */
  wakeup?: Wakeup;
  /** Run even while the gate says not to act (the loop that decides the gate). */
  ungated?: boolean;
}

/** Default of {@link LoopHealthOptions.staleIntervals}. */
export const DEFAULT_STALE_INTERVALS = 5;
/** Default of {@link LoopHealthOptions.minStaleMs}, ms. */
export const DEFAULT_MIN_STALE_MS = 60_000;

interface Entry extends LoopRecord {
  registeredAt: number;
}

/**
 * The registry of one daemon's loops.
 *
 * @example
 * const loops = new LoopHealth();
 * loops.setGate(() => guard.pauseReason());
 * await loops.run("prover", 500, signal, () => prover.tick(), (err) => log.warn({ err }, "…"));
 */
export class LoopHealth {
  private readonly entries = new Map<string, Entry>();
  private gate: () => string | undefined = () => undefined;
  private readonly staleIntervals: number;
  private readonly minStaleMs: number;
  private readonly now: () => number;

  constructor(options: LoopHealthOptions = {}) {
    this.staleIntervals = options.staleIntervals ?? DEFAULT_STALE_INTERVALS;
    this.minStaleMs = options.minStaleMs ?? DEFAULT_MIN_STALE_MS;
    this.now = options.now ?? Date.now;
  }

  /** Rounds of gated loops are skipped while `gate` returns a reason. */
  setGate(gate: () => string | undefined): void {
    this.gate = gate;
  }

  /** Why gated loops skip their rounds now, or undefined when they run. */
  pauseReason(): string | undefined {
    return this.gate();
  }

  /** Adds a loop (again: keeps its record, updates the interval). */
  register(name: string, intervalMs: number): void {
    const known = this.entries.get(name);
    if (known) {
      known.intervalMs = intervalMs;
      return;
    }
    this.entries.set(name, {
      intervalMs,
      consecutiveFailures: 0,
      skippedRounds: 0,
      running: false,
      registeredAt: this.now(),
    });
  }

  /** Records a round of `name` that succeeded. */
  succeeded(name: string): void {
    const entry = this.entry(name);
    entry.lastSuccessAt = this.now();
    entry.consecutiveFailures = 0;
  }

  /** Records a round of `name` that failed with `err`. */
  failed(name: string, err: unknown): void {
    const entry = this.entry(name);
    entry.lastError = firstLine(err);
    entry.lastErrorAt = this.now();
    entry.consecutiveFailures++;
  }

  /**
   * Runs `tick` every `intervalMs` until `signal` aborts (`runEvery`), recording every round;
   * while the gate gives a reason, a gated loop skips its rounds (counted, not run, not logged).
   *
   * @param onError Called with a failed round's error (not while stopping), as in `runEvery`.
   * @returns A promise that settles when the loop has stopped.
   */
  run(
    name: string,
    intervalMs: number | (() => number),
    signal: AbortSignal,
    tick: () => Promise<unknown>,
    onError: (err: unknown) => void,
    options: LoopRunOptions = {},
  ): Promise<void> {
    this.register(name, typeof intervalMs === "number" ? intervalMs : intervalMs());
    const entry = this.entry(name);
    const round = async (): Promise<void> => {
      if (!options.ungated && this.gate() !== undefined) {
        entry.skippedRounds++;
        return;
      }
      entry.running = true;
      try {
        await tick();
        this.succeeded(name);
      } catch (err) {
        if (!signal.aborted) this.failed(name, err);
        throw err;
      } finally {
        entry.running = false;
      }
    };
    return runEvery(intervalMs, signal, round, onError, options.wakeup);
  }

  /** Every loop's record, by name (copies). */
  snapshot(): Record<string, LoopRecord> {
    return Object.fromEntries(
      [...this.entries].map(([name, { registeredAt: _registeredAt, ...record }]) => [name, { ...record }]),
    );
  }

  /**
   * The loops that are failing: the last round failed and no round succeeded for
   * max(`staleIntervals` × interval, `minStaleMs`). A loop in a long round whose last finished
   * round succeeded is not stale; a loop skipped by the gate keeps its record.
   */
  stale(): StaleLoop[] {
    const now = this.now();
    const stale: StaleLoop[] = [];
    for (const [name, entry] of this.entries) {
      if (entry.consecutiveFailures === 0) continue;
      const failingForMs = now - (entry.lastSuccessAt ?? entry.registeredAt);
      if (failingForMs > Math.max(this.staleIntervals * entry.intervalMs, this.minStaleMs)) {
        stale.push({ name, failingForMs, lastError: entry.lastError });
      }
    }
    return stale;
  }

  private entry(name: string): Entry {
    const entry = this.entries.get(name);
    if (entry) return entry;
    this.register(name, 0);
    return this.entry(name);
  }
}

/** The first line of an error's message, at most 300 characters. */
function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return (message.split("\n")[0] ?? "").slice(0, 300);
}
