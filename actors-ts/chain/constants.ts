/**
 * Constants of the contracts. The enum name tables come from the compiler's AST
 * (generated/types.ts, rewritten on every compile); only `DRAWS_PER_CHALLENGE` is written here.
 */

import { closeReasonNames, dealStateNames, publishResultNames, type DealStateName } from "./generated/types";

/** Answers per required challenge the market allows (draws landing in a piece whose deal closed
 * while the proof window was open are redrawn). */
export const DRAWS_PER_CHALLENGE = 16;

/** `PublishResult` names by value (contracts/types/StorageDealTypes.sol). */
export const PUBLISH_RESULTS = publishResultNames;

/** `DealState` names by value. */
export const DEAL_STATES = dealStateNames;
export type { DealStateName };

/** `CloseReason` names by value. */
export const CLOSE_REASONS = closeReasonNames;
