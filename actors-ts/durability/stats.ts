/** An estimate of a proportion with its confidence interval. */
export interface Interval {
  estimate: number;
  /** Lower bound of the interval. */
  lo: number;
  /** Upper bound of the interval. */
  hi: number;
}

/** z for a two-sided 95 % interval. */
export const Z_95 = 1.959964;

/**
 * Wilson's score interval for `successes` out of `trials` (E. B. Wilson, "Probable inference, the
 * law of succession, and statistical inference", JASA 1927): unlike the normal approximation it
 * stays inside [0, 1] and gives a useful upper bound at zero successes (≈ z²/trials, the "rule of
 * three" at 95 %). `trials` may be fractional (file-years of exposure).
 *
 * @throws RangeError when trials ≤ 0 or successes is outside [0, trials].
 * @example wilson(0, 1e6).hi // ≈ 3.84e-6
 */
export function wilson(successes: number, trials: number, z: number = Z_95): Interval {
  if (!(trials > 0)) throw new RangeError(`trials must be > 0, got ${trials}`);
  if (successes < 0 || successes > trials) throw new RangeError(`successes ${successes} outside [0, ${trials}]`);
  const p = successes / trials;
  const z2 = z * z;
  const centre = (p + z2 / (2 * trials)) / (1 + z2 / trials);
  const half = (z / (1 + z2 / trials)) * Math.sqrt((p * (1 - p)) / trials + z2 / (4 * trials * trials));
  // At 0 (or all) successes the bound is exactly 0 (1); rounding must not push it past the estimate.
  return { estimate: p, lo: Math.min(p, Math.max(0, centre - half)), hi: Math.max(p, Math.min(1, centre + half)) };
}

/** An interval multiplied by `factor` (e.g. 10^6 for "per million"). */
export function scaled(i: Interval, factor: number): Interval {
  return { estimate: i.estimate * factor, lo: i.lo * factor, hi: i.hi * factor };
}
