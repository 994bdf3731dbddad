import { z } from "zod";
import { zAddress, zByteCount, zDecimalString, zHex, zHexBytes, zUint, zUint64 } from "../core/schemas";

/**
 * The repair miner daemon's HTTP API (seed 000 "Market Flow (with repair)"): a client proposes a
 * repair deal for its open bid, uploads the k + m pieces, and commits; the miner checks every byte
 * against the bid's droot before it signs anything on chain. Amounts and ids are decimal strings.
 */
export const REPAIR_PATHS = {
  info: "/info",
  health: "/healthz",
  proposals: "/repair/proposals",
  piece: (id: string, index: string | number) => `/repair/proposals/${id}/pieces/${index}`,
  commit: (id: string) => `/repair/proposals/${id}/commit`,
  deal: (dealId: string) => `/repair/deals/${dealId}`,
  deals: "/repair/deals",
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
  txHash: zHexBytes(32),
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
