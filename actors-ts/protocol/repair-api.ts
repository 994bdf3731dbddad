import { z } from "zod";
import { zAddress, zByteCount, zDecimalString, zHex, zHexBytes, zUint, zUint64 } from "../core/schemas";
import { HEALTH_PATH } from "./health-api";

/**
 * The repair miner daemon's HTTP API (seed 000 "Market Flow (with repair)"): a client proposes a
 * repair deal for its open bid, uploads the k + m pieces, and commits; the miner checks every byte
 * against the bid's droot before it signs anything on chain. Amounts and ids are decimal strings.
 */
export const REPAIR_PATHS = {
  info: "/info",
  /** `health-api.ts`: the same shape on every daemon. */
  health: HEALTH_PATH,
  proposals: "/repair/proposals",
  piece: (id: string, index: string | number) => `/repair/proposals/${id}/pieces/${index}`,
  commit: (id: string) => `/repair/proposals/${id}/commit`,
  deal: (dealId: string) => `/repair/deals/${dealId}`,
  deals: "/repair/deals",
  escrow: "/repair/escrow",
  manifest: (droot: string) => `/manifests/${droot}`,
} as const;

/** POST /repair/proposals (signed by the bid's client). */
export const repairProposalSchema = z.object({
  bidId: zUint,
  askId: zUint,
  /** Last epoch the authorization may be used. */
  deadline: zUint64,
  /** EIP-712 RepairDealAuthorization(bidId, askId, minerId, deadline) by the client. */
  clientSignature: zHex,
  /** The file's manifest; it must hash to the bid's droot. */
  manifest: z.unknown(),
});

/**
 * `details` of a 409 `InsufficientPledge` refusal (a proposal, or a commit when a top-up is not
 * allowed): the miner's pledge, what the deal needs and the command that adds the shortfall.
 * Token base units and bytes as decimal strings.
 */
export const insufficientPledgeDetailsSchema = z.object({
  minerId: zDecimalString,
  /** The miner's pledge now. */
  pledge: zDecimalString,
  /** `(powerBytes + bidSize) × pledgePerByte`: what `addDeal` requires. */
  required: zDecimalString,
  /** `required − pledge`. */
  shortfall: zDecimalString,
  powerBytes: zDecimalString,
  bidSize: zDecimalString,
  pledgePerByte: zDecimalString,
  /** Why the miner does not top up: `autoPledgeOff`, `overCap` or `walletShort`. */
  reason: z.enum(["autoPledgeOff", "overCap", "walletShort"]),
  /** The owner's cap on top-ups, when set. */
  maxPledge: zDecimalString.optional(),
  /** The command the miner's owner runs to add the shortfall. */
  command: z.string(),
});
export type InsufficientPledgeDetails = z.output<typeof insufficientPledgeDetailsSchema>;

/** Tentative acceptance: where to upload each piece. */
export const repairProposalResponseSchema = z.object({
  intakeId: z.string().min(1).max(100),
  minerId: zDecimalString,
  /** uploadPaths[i] takes piece i (PUT, application/octet-stream, signed). */
  uploadPaths: z.array(z.string().startsWith("/")).max(64),
});
export type RepairProposalResponse = z.output<typeof repairProposalResponseSchema>;

/** POST /repair/proposals/:id/commit */
export const repairCommitResponseSchema = z.object({
  dealId: zDecimalString,
  /** The addDeal transaction; absent when a deal found after a crash is too old to read its log. */
  txHash: zHexBytes(32).optional(),
  droot: zHexBytes(32),
});
export type RepairCommitResponse = z.output<typeof repairCommitResponseSchema>;

/** GET /info */
export const repairInfoResponseSchema = z.object({
  minerId: zDecimalString,
  worker: zAddress,
  askId: zDecimalString,
  pricePerBytePerEpoch: zDecimalString,
  maxSize: zDecimalString,
  chainId: z.number().int().positive(),
  version: z.string(),
});
export type RepairInfoResponse = z.output<typeof repairInfoResponseSchema>;

/** GET /repair/deals/:dealId */
export const repairDealStatusResponseSchema = z.object({
  dealId: zDecimalString,
  droot: z.string(),
  status: z.string(),
  pieces: z.array(
    z.object({
      index: z.number().int().nonnegative(),
      pieceCid: z.string(),
      state: z.string(),
      provider: z.string().optional(),
      storageDealId: zDecimalString.optional(),
      /** The miner still holds a copy (until every piece has been proven once). */
      localCopy: z.boolean(),
      /** Why the last placement step failed, and when it is tried again (ISO 8601). */
      error: z.string().optional(),
      nextAttemptAt: z.string().optional(),
    }),
  ),
  repairs: z.array(
    z.object({
      id: z.number().int(),
      indices: z.array(z.number().int().nonnegative()),
      status: z.string(),
      bytesDownloaded: zByteCount,
      /** How the pieces were (or are being) rebuilt: k whole pieces, or Clay sub-chunks from d helpers. */
      method: z.string().optional(),
      faultEpoch: zDecimalString.optional(),
      reassignedEpoch: zDecimalString.optional(),
      /** Epoch the new storage deals of the rebuilt pieces were first seen proven. */
      confirmedEpoch: zDecimalString.optional(),
      /** Why the last attempt failed, and when the job runs again (ISO 8601). */
      error: z.string().optional(),
      nextAttemptAt: z.string().optional(),
    }),
  ),
  evidence: z.array(
    z.object({
      index: z.number().int(),
      provider: z.string(),
      expected: z.string(),
      actual: z.string(),
      stage: z.string(),
    }),
  ),
});
export type RepairDealStatusResponse = z.output<typeof repairDealStatusResponseSchema>;

/**
 * GET /repair/escrow: where the miner's money is (issue 17, decision 34). Token base units as
 * decimal strings, read from the chain when asked.
 */
export const repairEscrowResponseSchema = z.object({
  minerId: zDecimalString,
  worker: zAddress,
  /** The worker's StorageMarket escrow (`balanceOf`): free to lock or withdraw, locked in open deals. */
  storageMarket: z.object({ free: zDecimalString, locked: zDecimalString }),
  /** RepairMarket: what the worker may `withdraw`, and the miner's pledge. */
  repairMarket: z.object({ balance: zDecimalString, pledge: zDecimalString }),
  /** Of `storageMarket.locked`: what the worker's storage deals that are no longer live still lock. */
  lockedForEndedDeals: zDecimalString,
  /** Those deals (Terminated or Expired, not yet closed), each waiting for the settler. */
  endedDeals: z
    .array(z.object({ storageDealId: zDecimalString, state: z.string(), locked: zDecimalString }))
    .max(10_000),
  /** Free escrow the withdraw loop leaves for upcoming placements. */
  placementReserve: zDecimalString,
  /** Storage deals of the worker the settler has not yet seen closed (live ones included). */
  pendingSettlements: z.number().int().nonnegative(),
  /** Where the withdraw loop sends tokens; absent when the loop is off. */
  withdrawTo: zAddress.optional(),
});
export type RepairEscrowResponse = z.output<typeof repairEscrowResponseSchema>;
