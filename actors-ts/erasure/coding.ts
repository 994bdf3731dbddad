import { InvalidArgumentError } from "../core/errors";
import { clayParams, type ClayParams } from "./clay-core";

/**
 * Which erasure code a file uses. Absent (undefined) means Reed–Solomon, the original format, so
 * a manifest without a `coding` field and its droot stay byte-identical; Clay carries its d, the
 * helpers a single-piece repair reads from (k ≤ d ≤ k + m − 1).
 */
export interface ClayCoding {
  readonly scheme: "clay";
  /** Helpers per single-piece repair. */
  readonly d: number;
}

/** A file's coding: undefined for Reed–Solomon, {@link ClayCoding} for Clay. */
export type FileCoding = ClayCoding | undefined;

/** The on-chain `CodingParams.scheme` values (RepairTypes.sol). */
export const CODING_SCHEME = { reedSolomon: 0, clay: 1 } as const;

/** The on-chain `scheme` and `d` of a coding (Reed–Solomon: 0 and 0). */
export function codingOnChain(coding: FileCoding): { scheme: number; d: number } {
  return coding ? { scheme: CODING_SCHEME.clay, d: coding.d } : { scheme: CODING_SCHEME.reedSolomon, d: 0 };
}

/** A short human name: "Reed–Solomon" or "Clay (d = 5)". */
export function codingName(coding: FileCoding): string {
  return coding ? `Clay (d = ${coding.d})` : "Reed–Solomon";
}

/**
 * The Clay parameters of a file coded `coding` with k + m pieces.
 *
 * @throws InvalidArgumentError when clayParams refuses k, m, d.
 */
export function clayParamsOf(k: number, m: number, coding: ClayCoding): ClayParams {
  return clayParams(k, m, coding.d);
}

/**
 * The coding a store asks for: "rs" or "clay" with d (default n − 1).
 *
 * @throws InvalidArgumentError for an unknown name, d with Reed–Solomon, or d clayParams refuses.
 * @example parseCoding("clay", 4, 2) // { scheme: "clay", d: 5 }
 */
export function parseCoding(name: string, k: number, m: number, d?: number): FileCoding {
  if (name === "rs") {
    if (d !== undefined) {
      throw new InvalidArgumentError("d is a Clay parameter: Reed–Solomon takes none", { details: { d } });
    }
    return undefined;
  }
  if (name !== "clay") {
    throw new InvalidArgumentError(`unknown coding "${name}" (rs or clay)`, { details: { coding: name } });
  }
  const coding: ClayCoding = { scheme: "clay", d: d ?? k + m - 1 };
  clayParamsOf(k, m, coding);
  return coding;
}
