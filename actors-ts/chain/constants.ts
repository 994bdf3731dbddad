/**
 * Constants mirrored from the contracts (contracts/types/StorageDealTypes.sol).
 */

/** Flag bit of `PieceProof.dealId` for an answer that points into a free list. */
export const FREE_RANGE_FLAG = 1n << 255n;

/** `PieceProof.dealId` naming entry `index` of the free list of ranges of 2^log2Leaves leaves. */
export function freeRangeLocator(log2Leaves: number, index: bigint): bigint {
  return FREE_RANGE_FLAG | (BigInt(log2Leaves) << 64n) | index;
}

/** Answers per required challenge the market allows (draws landing in freed ranges are redrawn). */
export const DRAWS_PER_CHALLENGE = 4;

/** `PublishResult` names by value (contracts/types/StorageDealTypes.sol). */
export const PUBLISH_RESULTS = [
  "None",
  "ProviderMismatch",
  "InvalidSignature",
  "NonceUsed",
  "InvalidPieceSize",
  "InvalidPieceCid",
  "InvalidEpochs",
  "StartEpochTooSoon",
  "DurationTooLong",
  "ClientBalanceTooLow",
  "ProviderBalanceTooLow",
  "AmountTooLarge",
  "ProofSetFull",
] as const;

/** `DealState` names by value. */
export const DEAL_STATES = ["None", "Published", "Active", "Faulted", "Terminated", "Expired"] as const;
export type DealStateName = (typeof DEAL_STATES)[number];

/** `CloseReason` names by value. */
export const CLOSE_REASONS = ["Expired", "FaultDeclared", "ProofSetFailed", "NotActivated"] as const;
