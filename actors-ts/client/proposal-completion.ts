import type { Hex } from "viem";
import { PeerRejectedError, PeerUnreachableError } from "../core/http-client";
import type { RegisteredProvider } from "../chain/registry/reads";
import { PROVIDER_PATHS, type ProposalStatusResponse, type ProposeDealResponse } from "../protocol/provider-api";
import { getProposalStatus, proposeDeal } from "../protocol/provider-client";
import { waitPublished } from "./deal-publication";
import type { EscrowHolds } from "./escrow-holds";
import { uploadPiece } from "./piece-transfer";
import {
  DealNotPublishedError,
  lookupProvider,
  type SignedProposal,
  type StorageClientComponents,
  type StoreOptions,
} from "./storage-common";

/**
 * {@link StorageClient.completeProposal}'s work: asks the provider for the proposal's status,
 * then proposes, uploads and waits as needed, with the proposal's escrow held in `escrow` until
 * it is published (the caller releases the hold).
 *
 * @throws PeerRejectedError, DealNotPublishedError, PeerUnreachableError, ContractRevertedError
 *   (an escrow top-up).
 */
export async function completeSignedProposal(
  c: StorageClientComponents,
  escrow: EscrowHolds,
  signed: SignedProposal,
  filePath: string,
  options: Omit<StoreOptions, "provider">,
): Promise<{ dealId: bigint; txHash: Hex }> {
  const provider = await lookupProvider(c, signed.proposal.provider);
  const p = signed.proposal;
  // The proposal's escrow is held again until publication (a proposal resumed after a restart
  // has no hold yet): what it will lock is free when the market publishes it.
  const hold = () =>
    escrow.ensure(p.storagePricePerEpoch * (p.endEpoch - p.startEpoch) + p.clientCollateral, signed.proposalHash);
  let status: ProposalStatusResponse | undefined;
  try {
    status = await proposalStatus(provider, signed.proposalHash);
  } catch (err) {
    // The provider is gone but had signed its acceptance before: publish the deal ourselves.
    if (err instanceof PeerUnreachableError && c.store.acceptance(signed.proposalHash)) {
      await hold();
      return waitPublished(c, provider, signed, options);
    }
    throw err;
  }
  if (status?.status === "published" && status.dealId && status.txHash) {
    return { dealId: BigInt(status.dealId), txHash: status.txHash };
  }
  if (
    status?.status === "stored" ||
    ((status?.status === "failed" || status?.status === "expired") && status.providerSignature)
  ) {
    await hold();
    return waitPublished(c, provider, signed, options);
  }
  if (status?.status === "failed" || status?.status === "expired") {
    throw new DealNotPublishedError(`deal was not published: ${status.reason ?? status.status}`, {
      details: {
        provider: provider.address,
        proposalHash: signed.proposalHash,
        reason: status.reason ?? status.status,
      },
    });
  }
  await hold();
  const accepted = status ? acceptedOf(signed) : await propose(c, signed);
  return uploadPiece(c, provider, signed, accepted, filePath, { ...options, provider: provider.address });
}

function acceptedOf(signed: SignedProposal): ProposeDealResponse {
  return {
    accepted: true,
    proposalHash: signed.proposalHash,
    uploadPath: PROVIDER_PATHS.proposalData(signed.proposalHash),
    payloadSize: 0,
  };
}

/** POSTs a signed proposal; accepting the same proposal again is a no-op at the provider. */
export async function propose(c: StorageClientComponents, signed: SignedProposal): Promise<ProposeDealResponse> {
  const provider = await lookupProvider(c, signed.proposal.provider);
  return proposeDeal(c.clients.account, provider, {
    proposal: signed.proposal,
    clientSignature: signed.clientSignature,
    pieceCidV2: signed.pieceCidV2,
  });
}

/** The provider's view of a proposal, or undefined when it has never seen it. */
async function proposalStatus(
  provider: RegisteredProvider,
  proposalHash: Hex,
): Promise<ProposalStatusResponse | undefined> {
  try {
    return await getProposalStatus(provider, proposalHash);
  } catch (err) {
    if (err instanceof PeerRejectedError && err.statusCode === 404) return undefined;
    throw err;
  }
}
