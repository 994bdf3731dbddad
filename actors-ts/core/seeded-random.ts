/**
 * A small deterministic pseudo-random generator (mulberry32: 32 bits of state, period 2^32): the
 * same seed gives the same sequence, so a simulation, a soak or a fault-injecting proxy that saw
 * something can be replayed. Fast and good enough for Monte Carlo and fault draws; not for anything
 * secret.
 */
export class SeededRandom {
  private state: number;

  /** @param seed Any integer (only its low 32 bits are used). */
  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** The next number, uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }

  /** An integer uniform in [min, max], both inclusive. */
  integer(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
}
