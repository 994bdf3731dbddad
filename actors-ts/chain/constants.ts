/**
 * Constants mirrored from the contracts (contracts/types/StorageDealTypes.sol).
 */

/** Answers per required challenge the market allows (draws landing in a piece whose deal closed
 * while the proof window was open are redrawn). */
export const DRAWS_PER_CHALLENGE = 16;

/** `PublishResult` names by value (contracts/types/StorageDealTypes.sol). */
export const PUBLISH_RESULTS = [
  "None",
  "InvalidProviderSignature",
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
  "DataSetFull",
  "InvalidPayloadSize",
] as const;

/** `DealState` names by value. */
export const DEAL_STATES = ["None", "Published", "Active", "Faulted", "Terminated", "Expired"] as const;
export type DealStateName = (typeof DEAL_STATES)[number];

/** `CloseReason` names by value. */
export const CLOSE_REASONS = ["Expired", "FaultDeclared", "DataSetFailed", "NotActivated"] as const;
