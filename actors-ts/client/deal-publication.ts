import type { Address, Hex } from "viem";
import { sleep } from "../core/abort";
import { PeerRejectedError, PeerUnreachableError } from "../core/http-client";
import { findPublishedDeal } from "../chain/storage-market/events";
import { verifyAcceptanceSignature } from "../chain/storage-market/proposals";
import { publishStorageDeals } from "../chain/storage-market/publish-storage-deals";
import type { RegisteredProvider } from "../chain/registry/reads";
import type { ProposalStatusResponse } from "../protocol/provider-api";
import {
  DealNotPublishedError,
  type SignedProposal,
  type StorageClientComponents,
  type StoreOptions,
} from "./storage-common";
import { getProposalStatus } from "../protocol/provider-client";

/**
 * Getting a stored piece's deal on chain (seed 001 steps 3 and 9): wait for the provider to
 * publish it, or publish it with the provider's signed acceptance when it does not.
 */

/**
 * Polls the provider until the deal is published. Once the provider has signed its acceptance
 * (it holds the piece), the client publishes the deal itself (seed 001 steps 2–3) when the
 * provider has not after `selfPublishAfterMs`, stops answering, or reports its publish failed;
 * a provider that took the bytes is then held to the deal.
 *
 * @throws DealNotPublishedError (failed at the provider without an acceptance, or skipped by the
 *   market), PeerUnreachableError (unreachable before it signed), PeerRejectedError 504 after
 *   about two minutes.
 */
export async function waitPublished(
  c: StorageClientComponents,
  provider: RegisteredProvider,
  signed: Pick<SignedProposal, "proposal" | "clientSignature" | "proposalHash">,
  options: Pick<StoreOptions, "selfPublishAfterMs" | "onProgress">,
): Promise<{ dealId: bigint; txHash: Hex }> {
  const selfPublishAfterMs = options.selfPublishAfterMs ?? 60_000;
  const since = Date.now();
  // An acceptance received before a restart counts too.
  let acceptance: Hex | undefined = c.store.acceptance(signed.proposalHash);
  for (let i = 0; i < 120; i++) {
    let status: ProposalStatusResponse | undefined;
    try {
      status = await getProposalStatus(provider, signed.proposalHash);
    } catch (err) {
      if (!(err instanceof PeerUnreachableError) || !acceptance) throw err;
    }
    if (status?.status === "published" && status.dealId && status.txHash) {
      return { dealId: BigInt(status.dealId), txHash: status.txHash };
    }
    if (!acceptance && status?.providerSignature) {
      const { clients, contracts } = c;
      if (
        await verifyAcceptanceSignature(clients, contracts.storageMarket, signed.proposal, status.providerSignature)
      ) {
        acceptance = status.providerSignature;
        c.store.putAcceptance(signed.proposalHash, acceptance);
      } else c.logger.warn({ provider: provider.address }, "the provider's acceptance signature does not verify");
    }
    const failed = status?.status === "failed" || status?.status === "expired";
    if (failed && !acceptance) {
      throw new DealNotPublishedError(`deal was not published: ${status?.reason ?? status?.status}`, {
        details: { provider: provider.address, proposalHash: signed.proposalHash, reason: status?.reason ?? "" },
      });
    }
    if (acceptance && (failed || !status || Date.now() - since >= selfPublishAfterMs)) {
      const own = await publishAccepted(c, provider.address, signed, acceptance);
      if (own) {
        options.onProgress?.({ stage: "selfPublished", ...own });
        return own;
      }
    }
    await sleep(1000);
  }
  throw new PeerRejectedError(504, "PublishTimeout", "deal was not published within two minutes", {
    peer: provider.address,
    stage: "deal status",
  });
}

/**
 * Publishes a deal from the client's account with the provider's acceptance. When its nonce is
 * already used (the provider got there first), finds that deal in the `DealPublished` logs of the
 * window it can have been published in (before its start epoch, within the log lookback).
 *
 * @returns The deal, or undefined when it is published but not found (keep polling).
 * @throws DealNotPublishedError when the market skips it for another reason.
 */
export async function publishAccepted(
  c: StorageClientComponents,
  provider: Address,
  signed: Pick<SignedProposal, "proposal" | "clientSignature" | "proposalHash">,
  providerSignature: Hex,
): Promise<{ dealId: bigint; txHash: Hex } | undefined> {
  const { clients, contracts, logger } = c;
  const { proposal, clientSignature } = signed;
  const { hash, results } = await publishStorageDeals(clients, contracts, [
    { proposal, clientSignature, providerSignature },
  ]);
  const [result] = results;
  if (result.published) {
    logger.warn(
      { provider, proposalHash: signed.proposalHash, dealId: result.dealId.toString(), txHash: hash },
      "the provider holds the piece but did not publish; published the deal with its acceptance",
    );
    return { dealId: result.dealId, txHash: hash };
  }
  if (result.reason !== "NonceUsed") {
    throw new DealNotPublishedError(`the market skipped the deal: ${result.reason}`, {
      details: {
        provider,
        proposalHash: signed.proposalHash,
        reason: result.reason,
        stage: "publish with acceptance",
      },
    });
  }
  const found = await findPublishedDeal(clients, contracts, {
    client: proposal.client,
    provider: proposal.provider,
    nonce: proposal.nonce,
    pieceCid: proposal.pieceCid,
    startEpoch: proposal.startEpoch,
  });
  return found ? { dealId: found.dealId, txHash: found.txHash } : undefined;
}
