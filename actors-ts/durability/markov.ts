import { HOURS_PER_YEAR, checkAssumptions, pieceCount, restoreHours, type DurabilityAssumptions } from "./assumptions";

/**
 * One file as a continuous-time birth–death Markov chain (the standard MTTDL model: Gibson and
 * Patterson's RAID reliability model; Rao, Hafner and Golding, "Reliability for networked storage
 * nodes", 2011; Greenan et al., "Mean time to meaningless", HotStorage 2010, on its limits):
 *
 * - state i = pieces lost, 0..m; state m + 1 (the file lost) absorbs;
 * - i → i + 1 at rate (n − i)·λ: each of the n − i healthy pieces sits on its own provider, and each
 *   provider fails independently at λ per hour;
 * - i → i − 1 at rate μ_i. The repair miner repairs a file's lost pieces side by side, not one
 *   after another: each loss is detected at its own provider's missed proving period, one job's
 *   download of k pieces rebuilds every loss seen so far, and the placer places rebuilt pieces in
 *   parallel (actors-ts/repair/watcher.ts, repairer.ts, placer.ts). So μ_i = i / T_i
 *   ("parallel"), T_i the mean restore time of one piece ({@link restoreHours}); "serial"
 *   (μ_i = 1 / T_i) is kept for comparison with the one-at-a-time literature.
 *
 * Independent failures only: correlated ones (an operator's providers all going at once) are the
 * simulation's (simulate.ts). Restore times are taken as exponential with the mean T_i.
 */
export interface BirthDeathChain {
  /** Pieces per file, n = k + m. */
  n: number;
  /** Parity pieces: state m + 1 is the loss. */
  m: number;
  /** Failure rate of one provider, per hour. */
  lambdaPerHour: number;
  /** Repair rates per hour: muPerHour[i] from state i (index 0 unused, 0). */
  muPerHour: number[];
}

/** How the miner's repairs of one file's lost pieces overlap (see {@link BirthDeathChain}). */
export type RepairConcurrency = "parallel" | "serial";

/**
 * The chain for one file under `a`.
 *
 * @throws RangeError from {@link checkAssumptions}.
 */
export function chainFor(a: DurabilityAssumptions, concurrency: RepairConcurrency = "parallel"): BirthDeathChain {
  checkAssumptions(a);
  const muPerHour = [0];
  for (let i = 1; i <= a.m; i++) muPerHour.push((concurrency === "parallel" ? i : 1) / restoreHours(a, i));
  return { n: pieceCount(a), m: a.m, lambdaPerHour: a.providerFailuresPerYear / HOURS_PER_YEAR, muPerHour };
}

/** Failure (birth) rate from state i, per hour: (n − i)·λ. */
export function failureRate(c: BirthDeathChain, i: number): number {
  return (c.n - i) * c.lambdaPerHour;
}

/**
 * Mean time to data loss from state 0, hours, by the birth–death recursion on the absorbing
 * chain's linear system: h_i, the mean time from first reaching i to first reaching i + 1, is
 * h_0 = 1/λ_0 and h_i = (1 + μ_i·h_{i−1}) / λ_i; MTTDL = Σ h_i. Every term is positive, so no
 * cancellation, whatever μ/λ (10^8 is common).
 *
 * @returns Infinity when λ = 0.
 */
export function mttdlHours(c: BirthDeathChain): number {
  let h = 0;
  let total = 0;
  for (let i = 0; i <= c.m; i++) {
    h = (1 + c.muPerHour[i] * h) / failureRate(c, i);
    total += h;
  }
  return total;
}

/**
 * The transient part T of the generator (states 0..m), rows summing to minus the rate into the
 * loss: T[i][i+1] = λ_i, T[i][i−1] = μ_i, T[i][i] = −(λ_i + μ_i).
 */
export function transientGenerator(c: BirthDeathChain): number[][] {
  const s = c.m + 1;
  const t = Array.from({ length: s }, () => new Array<number>(s).fill(0));
  for (let i = 0; i < s; i++) {
    const up = failureRate(c, i);
    const down = c.muPerHour[i];
    if (i + 1 < s) t[i][i + 1] = up;
    if (i > 0) t[i][i - 1] = down;
    t[i][i] = -(up + down);
  }
  return t;
}

/**
 * Mean time to data loss from each transient state, hours, by the fundamental matrix
 * N = (−T)^−1 of the absorbing chain: the solution of (−T)·x = 1, by Gaussian elimination with
 * partial pivoting. A cross-check of {@link mttdlHours}: elimination subtracts μ from λ + μ, so
 * it loses about log10(μ/λ) digits.
 *
 * @throws RangeError when the system is singular (λ = 0).
 */
export function mttdlByFundamentalMatrix(c: BirthDeathChain): number[] {
  const a = transientGenerator(c).map((row) => row.map((v) => -v));
  return solve(a, new Array<number>(a.length).fill(1));
}

function solve(a: number[][], b: number[]): number[] {
  const s = a.length;
  for (let col = 0; col < s; col++) {
    let pivot = col;
    for (let r = col + 1; r < s; r++) if (Math.abs(a[r][col]) > Math.abs(a[pivot][col])) pivot = r;
    if (a[pivot][col] === 0) throw new RangeError("singular system: no failure rate, no loss");
    [a[col], a[pivot]] = [a[pivot], a[col]];
    [b[col], b[pivot]] = [b[pivot], b[col]];
    for (let r = col + 1; r < s; r++) {
      const f = a[r][col] / a[col][col];
      for (let j = col; j < s; j++) a[r][j] -= f * a[col][j];
      b[r] -= f * b[col];
    }
  }
  const x = new Array<number>(s).fill(0);
  for (let r = s - 1; r >= 0; r--) {
    let acc = b[r];
    for (let j = r + 1; j < s; j++) acc -= a[r][j] * x[j];
    x[r] = acc / a[r][r];
  }
  return x;
}

/**
 * P(the file is lost within `hours`), from state 0: the loss column of exp(Q·t) for the full
 * generator Q (states 0..m + 1). Computed by uniformization (P = I + Q/Λ, Λ the largest exit rate)
 * on a step h = t/2^j with Λh ≤ 1/2, then j squarings. Every term and product is non-negative,
 * so a probability of 10^−20 keeps its relative accuracy, which 1 − Σ P(transient) would not.
 *
 * @param hours Time horizon, hours (≥ 0).
 */
export function lossProbability(c: BirthDeathChain, hours: number): number {
  if (hours <= 0 || c.lambdaPerHour === 0) return 0;
  const e = transitionMatrix(c, hours);
  return e[0][c.m + 1];
}

/** exp(Q·t) over states 0..m + 1 (see {@link lossProbability}). */
export function transitionMatrix(c: BirthDeathChain, hours: number): number[][] {
  const s = c.m + 2;
  const q = transientGenerator(c).map((row) => [...row, 0]);
  q[c.m][c.m + 1] = failureRate(c, c.m);
  q.push(new Array<number>(s).fill(0));
  const rate = Math.max(...q.map((row, i) => -row[i]));
  const squarings = Math.max(0, Math.ceil(Math.log2(rate * hours * 2)));
  const x = (rate * hours) / 2 ** squarings;
  const p = q.map((row, i) => row.map((v, j) => (i === j ? 1 : 0) + v / rate));
  // e^{−x} Σ x^k/k! P^k, every term non-negative; with x ≤ 1/2, 80 terms leave < 10^−200.
  let term = identity(s);
  let weight = Math.exp(-x);
  let sum = term.map((row) => row.map((v) => v * weight));
  for (let k = 1; k <= 80 && weight > 0; k++) {
    term = multiply(term, p);
    weight *= x / k;
    sum = sum.map((row, i) => row.map((v, j) => v + weight * term[i][j]));
  }
  for (let j = 0; j < squarings; j++) sum = multiply(sum, sum);
  return sum;
}

function identity(s: number): number[][] {
  return Array.from({ length: s }, (_, i) => Array.from({ length: s }, (__, j) => (i === j ? 1 : 0)));
}

function multiply(a: number[][], b: number[][]): number[][] {
  return a.map((row) => b[0].map((_, j) => row.reduce((acc, v, k) => acc + v * b[k][j], 0)));
}

/** The model's figures for one layout. */
export interface MarkovFigures {
  /** Mean time to data loss from a healthy file, years. */
  mttdlYears: number;
  /** P(a healthy file is lost within one year), from exp(Q·1 y). */
  annualLossProbability: number;
  /** 1 − exp(−1 y / MTTDL): the exponential approximation, as a cross-check. */
  annualLossFromMttdl: number;
  /** Expected files lost per million healthy files in a year: 10^6 × annualLossProbability. */
  lossesPerMillionFilesPerYear: number;
  /** Mean restore time of one lost piece while one is lost, hours (T_1 = 1/μ_1). */
  restoreHours: number;
}

/**
 * MTTDL and annual loss for one layout under `a` (see {@link chainFor}).
 *
 * @throws RangeError from {@link checkAssumptions}.
 * @example markovFigures({ ...DEFAULT_ASSUMPTIONS, k: 4, m: 2 }).annualLossProbability
 */
export function markovFigures(a: DurabilityAssumptions, concurrency: RepairConcurrency = "parallel"): MarkovFigures {
  const c = chainFor(a, concurrency);
  const mttdl = mttdlHours(c);
  const annual = lossProbability(c, HOURS_PER_YEAR);
  return {
    mttdlYears: mttdl / HOURS_PER_YEAR,
    annualLossProbability: annual,
    annualLossFromMttdl: -Math.expm1(-HOURS_PER_YEAR / mttdl),
    lossesPerMillionFilesPerYear: annual * 1e6,
    restoreHours: restoreHours(a, 1),
  };
}
