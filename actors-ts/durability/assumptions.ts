/**
 * The durability model's inputs (`npm run durability`, docs/decisions.md 41): a layout, how often
 * a provider loses what it holds, and how long the repair miner takes from a loss to a confirmed
 * replacement, built from the chain's proving period and the miner's own steps. Times are hours
 * unless a name says otherwise; sizes are bytes; rates are per year as given and per hour inside.
 */

/** Hours in a year (365.25 days): every "per year" rate is divided by this. */
export const HOURS_PER_YEAR = 8_766;

/** How a lost piece is rebuilt: Reed–Solomon downloads k pieces, Clay codes less. */
export type RepairScheme = "rs" | "clay";

/** What the model assumes about one file, its providers and its repair miner. */
export interface DurabilityAssumptions {
  /** Data pieces: any k of the n = k + m pieces rebuild the file. */
  k: number;
  /** Parity pieces: the file survives m lost pieces and is lost at m + 1. */
  m: number;
  /** Repair download rule (see {@link downloadPieces}). */
  scheme: RepairScheme;
  /** Clay codes' helpers per repair, d ≤ n − 1 (default n − 1); ignored for `rs`. */
  clayHelpers?: number;
  /** Rate at which one provider loses everything it holds (disk, machine, operator gone), per year. */
  providerFailuresPerYear: number;
  /** Seconds per epoch (block) of the chain. */
  epochSeconds: number;
  /** The StorageMarket proving period, hours: a loss shows as a fault when a period passes unproven. */
  provingPeriodHours: number;
  /** Blocks the miner's watcher stays behind the head (RepairConfig.confirmations, default 2). */
  confirmationEpochs: number;
  /**
   * Hours from a loss to the miner seeing the fault. Default: one whole proving period (the worst
   * case: the piece went just after a proof) plus the confirmations.
   */
  detectionHours?: number;
  /** A piece's size, bytes (the payload of one of the n pieces). */
  pieceSizeBytes: number;
  /** The miner's download rate for one repair, bytes per second. */
  repairBandwidthBytesPerSecond: number;
  /**
   * Hours from a rebuilt piece to its new storage deal confirmed (proven) on chain. Default: two
   * proving periods and five epochs, the placer's storage start delay, by which the new provider
   * must have proven the piece; until then the chain counts the piece lost (decision 25).
   */
  placementHours?: number;
}

/**
 * Sane defaults, each an assumption to state beside any figure: the filecoin-calibration profile's
 * one-day proving period with 30 s epochs (scripts/lib/deploy-profiles.ts), the miner's default two
 * confirmations, 1 GiB pieces repaired over a 100 Mbit/s link, and providers that each lose their
 * data once a decade on average (λ = 0.1 per year: about five times a data-centre disk's yearly
 * failure rate, for machines and operators that leave as well as disks that die).
 */
export const DEFAULT_ASSUMPTIONS: Omit<DurabilityAssumptions, "k" | "m"> = {
  scheme: "rs",
  providerFailuresPerYear: 0.1,
  epochSeconds: 30,
  provingPeriodHours: 24,
  confirmationEpochs: 2,
  pieceSizeBytes: 2 ** 30,
  repairBandwidthBytesPerSecond: 12.5e6,
};

/** Pieces in a file, n = k + m. */
export function pieceCount(a: Pick<DurabilityAssumptions, "k" | "m">): number {
  return a.k + a.m;
}

/** Hours from a loss to the miner seeing it (see {@link DurabilityAssumptions.detectionHours}). */
export function detectionHours(a: DurabilityAssumptions): number {
  return a.detectionHours ?? a.provingPeriodHours + (a.confirmationEpochs * a.epochSeconds) / 3600;
}

/** Hours from a rebuilt piece to its replacement confirmed (see {@link DurabilityAssumptions.placementHours}). */
export function placementHours(a: DurabilityAssumptions): number {
  return a.placementHours ?? 2 * a.provingPeriodHours + (5 * a.epochSeconds) / 3600;
}

/**
 * Pieces' worth of bytes one repair downloads while `lost` pieces of the file are lost: k for
 * Reed–Solomon; for Clay codes (Vajha et al., "Clay Codes", FAST 2018) d/(d − k + 1) from d helpers
 * when exactly one piece is lost and d helpers are healthy (d = n − 1 by default), k otherwise.
 *
 * @throws RangeError when d is not in [k, n − 1].
 */
export function downloadPieces(a: DurabilityAssumptions, lost: number): number {
  if (a.scheme === "rs") return a.k;
  const n = pieceCount(a);
  const d = a.clayHelpers ?? n - 1;
  if (d < a.k || d > n - 1) throw new RangeError(`Clay helpers d = ${d} must lie in [k, n − 1] = [${a.k}, ${n - 1}]`);
  return lost === 1 && n - lost >= d ? d / (d - a.k + 1) : a.k;
}

/** Hours one repair spends downloading ({@link downloadPieces} × piece size ÷ bandwidth). */
export function downloadHours(a: DurabilityAssumptions, lost: number): number {
  return (downloadPieces(a, lost) * a.pieceSizeBytes) / a.repairBandwidthBytesPerSecond / 3600;
}

/**
 * Mean hours from one piece's loss to its replacement confirmed while `lost` pieces are lost:
 * detection + download + placement. The Markov model's μ is its inverse.
 */
export function restoreHours(a: DurabilityAssumptions, lost: number): number {
  return detectionHours(a) + downloadHours(a, lost) + placementHours(a);
}

/**
 * Checks a set of assumptions.
 *
 * @throws RangeError naming the first field out of range.
 */
export function checkAssumptions(a: DurabilityAssumptions): void {
  const positive: [string, number][] = [
    ["epochSeconds", a.epochSeconds],
    ["provingPeriodHours", a.provingPeriodHours],
    ["pieceSizeBytes", a.pieceSizeBytes],
    ["repairBandwidthBytesPerSecond", a.repairBandwidthBytesPerSecond],
  ];
  if (!Number.isInteger(a.k) || a.k < 1) throw new RangeError(`k must be an integer ≥ 1, got ${a.k}`);
  if (!Number.isInteger(a.m) || a.m < 1) throw new RangeError(`m must be an integer ≥ 1, got ${a.m}`);
  if (!(a.providerFailuresPerYear >= 0)) throw new RangeError("providerFailuresPerYear must be ≥ 0");
  for (const [name, v] of positive) if (!(v > 0)) throw new RangeError(`${name} must be > 0, got ${v}`);
  for (const [name, v] of [
    ["detectionHours", a.detectionHours],
    ["placementHours", a.placementHours],
    ["confirmationEpochs", a.confirmationEpochs],
  ] as const) {
    if (v !== undefined && !(v >= 0)) throw new RangeError(`${name} must be ≥ 0, got ${v}`);
  }
}
