/**
 * A seeded pseudo-random generator for the durability simulation (mulberry32: 32 bits of state,
 * period 2^32, fast, and good enough for Monte Carlo of this size; not for anything secret). The
 * same seed gives the same run.
 */
export class SimRandom {
  private state: number;

  /** @param seed Any integer (its low 32 bits are used). */
  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }

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
