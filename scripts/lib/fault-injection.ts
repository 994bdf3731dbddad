/**
 * Deterministic randomness and rate limiting shared by the fault-injecting network proxies
 * (strict-rpc-proxy.ts, wan-proxy.ts).
 */

export { SeededRandom } from "../../actors-ts/core/seeded-random";

/**
 * A token bucket: `capacity` tokens, refilled at `ratePerSecond` tokens per second. With
 * `ratePerSecond` Infinity every take succeeds.
 */
export class TokenBucket {
  private tokens: number;
  private refilledAt = performance.now();

  /**
   * @param ratePerSecond Tokens added per second (> 0; Infinity for no limit).
   * @param capacity Most tokens the bucket holds (≥ 1); it starts full.
   * @throws RangeError when either is out of range.
   */
  constructor(
    private readonly ratePerSecond: number,
    private readonly capacity: number,
  ) {
    if (!(ratePerSecond > 0)) throw new RangeError(`ratePerSecond must be > 0, got ${ratePerSecond}`);
    if (!(capacity >= 1)) throw new RangeError(`burst must be ≥ 1, got ${capacity}`);
    this.tokens = capacity;
  }

  /** Takes `count` tokens (at most the capacity) if the bucket has them; false otherwise. */
  take(count: number): boolean {
    if (this.ratePerSecond === Infinity) return true;
    const now = performance.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.refilledAt) / 1000) * this.ratePerSecond);
    this.refilledAt = now;
    const cost = Math.min(count, this.capacity);
    if (this.tokens < cost) return false;
    this.tokens -= cost;
    return true;
  }

  /** Seconds until `count` tokens (at most the capacity) will be there, rounded up; at least 1. */
  retryAfterSeconds(count: number): number {
    const missing = Math.min(count, this.capacity) - this.tokens;
    return Math.max(1, Math.ceil(missing / this.ratePerSecond));
  }
}
