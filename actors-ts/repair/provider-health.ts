/**
 * What the repair miner has learnt about providers while it runs, shared by its parts through one
 * object instead of maps each part mutates (issue "Architecture"):
 * - *unreachable* providers (the placer could not reach them) are skipped for new placements
 *   until a deadline;
 * - *faulted* providers (the watcher saw a storage deal of theirs fault) are skipped until a
 *   deadline or until their data set proves again, whichever comes first — one missed period must
 *   not shut a live provider out for good;
 * - *fed scores* from the dealbots' reputation feed, in [0, 1].
 * Addresses are compared lower-case. Times are ms since the epoch; `now` is injectable for tests.
 */
export class ProviderHealth {
  private readonly unreachableUntil = new Map<string, number>();
  private readonly faultedUntil = new Map<string, number>();
  private fedScores = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /** The placer could not reach `provider`: skip it for placements for `backoffMs`. */
  markUnreachable(provider: string, backoffMs: number): void {
    this.unreachableUntil.set(provider.toLowerCase(), this.now() + backoffMs);
  }

  /** A storage deal of `provider` faulted: skip it for `backoffMs`, or until it proves again. */
  markFaulted(provider: string, backoffMs: number): void {
    this.faultedUntil.set(provider.toLowerCase(), this.now() + backoffMs);
  }

  /** Providers still unreachable (their backoff not over), lower-case. */
  unreachable(): string[] {
    const now = this.now();
    return [...this.unreachableUntil].filter(([, until]) => until > now).map(([a]) => a);
  }

  /**
   * Providers still excluded for a fault, lower-case. A fault whose backoff ended is forgotten; so
   * is one whose provider `provesAgain` (asked once per faulted provider per call), and
   * `onRecovered` is told.
   */
  async faulted(
    provesAgain: (provider: string) => Promise<boolean>,
    onRecovered?: (provider: string) => void,
  ): Promise<string[]> {
    const now = this.now();
    const still: string[] = [];
    for (const [a, until] of [...this.faultedUntil]) {
      if (until <= now) this.faultedUntil.delete(a);
      else if (await provesAgain(a)) {
        this.faultedUntil.delete(a);
        onRecovered?.(a);
      } else still.push(a);
    }
    return still;
  }

  /** Replaces the fed scores (address → [0, 1]) with a fresh feed. */
  setFedScores(scores: Iterable<[string, number]>): void {
    this.fedScores = new Map([...scores].map(([a, s]) => [a.toLowerCase(), s]));
  }

  /** `provider`'s fed score, undefined when the feed has none. */
  fedScore(provider: string): number | undefined {
    return this.fedScores.get(provider.toLowerCase());
  }
}
