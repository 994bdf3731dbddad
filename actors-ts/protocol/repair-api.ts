import { z } from "zod";
import { zHex, zUint, zUint64 } from "../core/schemas";

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
export interface RepairProposalResponse {
  intakeId: string;
  minerId: string;
  /** uploadPaths[i] takes piece i (PUT, application/octet-stream, signed). */
  uploadPaths: string[];
}

/** POST /repair/proposals/:id/commit */
export interface RepairCommitResponse {
  dealId: string;
  txHash: `0x${string}`;
  droot: `0x${string}`;
}

/** GET /info */
export interface RepairInfoResponse {
  minerId: string;
  worker: `0x${string}`;
  askId: string;
  pricePerBytePerEpoch: string;
  maxSize: string;
  chainId: number;
  version: string;
}

/** GET /repair/deals/:dealId */
export interface RepairDealStatusResponse {
  dealId: string;
  droot: string;
  status: string;
  pieces: {
    index: number;
    pieceCid: string;
    state: string;
    provider?: string;
    storageDealId?: string;
    /** The miner still holds a copy (until every piece has been proven once). */
    localCopy: boolean;
    /** Why the last placement step failed, and when it is tried again (ISO 8601). */
    error?: string;
    nextAttemptAt?: string;
  }[];
  repairs: {
    id: number;
    indices: number[];
    status: string;
    bytesDownloaded: number;
    faultEpoch?: string;
    reassignedEpoch?: string;
    /** Epoch the new storage deals of the rebuilt pieces were first seen proven. */
    confirmedEpoch?: string;
    /** Why the last attempt failed, and when the job runs again (ISO 8601). */
    error?: string;
    nextAttemptAt?: string;
  }[];
  evidence: { index: number; provider: string; expected: string; actual: string; stage: string }[];
}
