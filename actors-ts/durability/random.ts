import { SeededRandom } from "../core/seeded-random";

/**
 * The durability simulation's seeded generator ({@link SeededRandom}, mulberry32) with the draws it
 * needs. The same seed gives the same run.
 */
export class SimRandom extends SeededRandom {
  /** An integer uniform in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Exponentially distributed with the given mean (Infinity when the mean is). */
  exponential(mean: number): number {
    return -mean * Math.log(1 - this.next());
  }

  /** A uniform draw from a non-empty list. */
  pick<T>(values: readonly T[]): T {
    return values[this.below(values.length)];
  }
}
