import type { LocalAccount } from "viem/accounts";
import { z } from "zod";
import { httpJson, PeerRejectedError } from "../core/http-client";
import { sendSignedJson, type SignedPeer } from "../core/signed-json";
import {
  insufficientPledgeDetailsSchema,
  REPAIR_PATHS,
  repairCommitResponseSchema,
  repairDealStatusResponseSchema,
  repairEscrowResponseSchema,
  repairProposalResponseSchema,
  repairProposalSchema,
  type RepairCommitResponse,
  type RepairDealStatusResponse,
  type InsufficientPledgeDetails,
  type RepairEscrowResponse,
  type RepairProposalResponse,
} from "./repair-api";

/**
 * One typed call per JSON endpoint of the repair miner daemon (`REPAIR_PATHS`), each checking
 * the answer against its schema in repair-api.ts. Piece uploads are byte streams and stay with
 * the repair client (client/repair-client.ts). A miner answers a commit only once the repair deal
 * is on chain, so the signed calls wait up to 180 s for the answer's headers.
 *
 * Every call throws PeerUnreachableError or PeerRejectedError (the miner's code, or
 * `InvalidJson` / `InvalidResponse`), naming the miner and the stage.
 */

const SIGNED_CALL_TIMEOUT_MS = 180_000;

/**
 * POST /repair/proposals (signed by the bid's client): the miner checks the bid, the ask, the
 * authorization and the manifest, and answers with the paths to upload the pieces to.
 *
 * @param body `{ bidId, askId, deadline, clientSignature, manifest }` (`repairProposalSchema`).
 */
export function proposeRepairDeal(
  account: LocalAccount,
  miner: SignedPeer,
  body: z.input<typeof repairProposalSchema>,
): Promise<RepairProposalResponse> {
  const request = {
    method: "POST" as const,
    path: REPAIR_PATHS.proposals,
    stage: "propose repair deal",
    headersTimeoutMs: SIGNED_CALL_TIMEOUT_MS,
  };
  return sendSignedJson(account, miner, request, JSON.stringify(body), repairProposalResponseSchema);
}

/** POST /repair/proposals/:id/commit (signed): the miner re-checks every byte and signs the deal on chain. */
export function commitRepairDeal(
  account: LocalAccount,
  miner: SignedPeer,
  intakeId: string,
): Promise<RepairCommitResponse> {
  const request = {
    method: "POST" as const,
    path: REPAIR_PATHS.commit(intakeId),
    stage: "commit repair deal",
    headersTimeoutMs: SIGNED_CALL_TIMEOUT_MS,
  };
  return sendSignedJson(account, miner, request, "{}", repairCommitResponseSchema);
}

/**
 * The details of a miner's 409 `InsufficientPledge` refusal, when `err` is one and its details
 * have the documented shape (`insufficientPledgeDetailsSchema`); undefined otherwise.
 */
export function insufficientPledgeOf(err: unknown): InsufficientPledgeDetails | undefined {
  if (!(err instanceof PeerRejectedError) || err.statusCode !== 409 || err.code !== "InsufficientPledge") {
    return undefined;
  }
  const parsed = insufficientPledgeDetailsSchema.safeParse(err.peerDetails);
  return parsed.success ? parsed.data : undefined;
}

/** GET /repair/deals/:dealId: one repair deal's pieces, repairs and evidence. */
export function getRepairDealStatus(minerUrl: string, dealId: string): Promise<RepairDealStatusResponse> {
  return httpJson(
    { method: "GET", url: minerUrl + REPAIR_PATHS.deal(dealId) },
    { peer: minerUrl, stage: "repair status" },
    repairDealStatusResponseSchema,
  );
}

/** GET /repair/deals: every repair deal of the miner. */
export function listRepairDeals(minerUrl: string): Promise<RepairDealStatusResponse[]> {
  return httpJson(
    { method: "GET", url: minerUrl + REPAIR_PATHS.deals },
    { peer: minerUrl, stage: "repair status" },
    z.array(repairDealStatusResponseSchema),
  );
}

/** GET /repair/escrow: the worker's StorageMarket and RepairMarket balances and what ended deals still lock. */
export function getRepairEscrow(minerUrl: string): Promise<RepairEscrowResponse> {
  return httpJson(
    { method: "GET", url: minerUrl + REPAIR_PATHS.escrow },
    { peer: minerUrl, stage: "repair escrow" },
    repairEscrowResponseSchema,
  );
}
