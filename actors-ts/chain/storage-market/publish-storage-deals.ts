import type { Hex } from "viem";
import { storageMarketAbi } from "../generated/abis";
import type { ChainClients } from "../clients";
import type { MarketContracts } from "../contracts";
import { PUBLISH_RESULTS } from "../constants";
import type { StorageDealProposal } from "../eip712";
import { sendContract } from "../send";

/** One proposal with the client's signature, and the provider's when someone else publishes. */
export interface SignedProposal {
  proposal: StorageDealProposal;
  clientSignature: Hex;
  /** The provider's `StorageDealAcceptance` signature (`signAcceptance`); omit when the provider sends. */
  providerSignature?: Hex;
}

/** Outcome of one item of the batch. */
export type PublishItemResult =
  | { published: true; dealId: bigint; dataSetId: bigint; pieceIndex: bigint }
  | { published: false; reason: (typeof PUBLISH_RESULTS)[number] };

/**
 * `StorageMarket.publishStorageDeals` from this account: the provider's own deals, or (with the
 * provider's acceptance in each item) deals a client or repair miner puts on chain itself.
 * Publishes the valid items and reports why each other one was skipped (decoded from
 * `DealProposalSkipped`).
 *
 * @returns Per-item results in input order, and the transaction hash.
 * @throws ContractRevertedError if the whole call reverts.
 */
export async function publishStorageDeals(
  clients: ChainClients,
  contracts: MarketContracts,
  items: SignedProposal[],
): Promise<{ hash: Hex; results: PublishItemResult[] }> {
  const sent = await sendContract(
    clients,
    {
      contract: "StorageMarket",
      address: contracts.storageMarket,
      abi: storageMarketAbi,
      functionName: "publishStorageDeals",
      args: [
        items.map((i) => ({
          proposal: i.proposal,
          clientSignature: i.clientSignature,
          providerSignature: i.providerSignature ?? "0x",
        })),
      ],
    },
    ["DealPublished", "DealProposalSkipped"],
  );
  const results: PublishItemResult[] = items.map(() => ({ published: false, reason: "None" }));
  const published = sent.events.filter((e) => e.eventName === "DealPublished");
  const skipped = new Map<number, number>();
  for (const e of sent.events) {
    if (e.eventName === "DealProposalSkipped") skipped.set(Number(e.args.index), Number(e.args.reason));
  }
  let next = 0;
  items.forEach((_, i) => {
    const reason = skipped.get(i);
    if (reason !== undefined) {
      results[i] = { published: false, reason: PUBLISH_RESULTS[reason] ?? "None" };
      return;
    }
    const event = published[next++];
    if (event?.eventName === "DealPublished") {
      results[i] = {
        published: true,
        dealId: event.args.dealId ?? 0n,
        dataSetId: event.args.dataSetId ?? 0n,
        pieceIndex: event.args.pieceIndex ?? 0n,
      };
    }
  });
  return { hash: sent.hash, results };
}
