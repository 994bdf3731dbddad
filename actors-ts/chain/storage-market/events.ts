import type { Address, Hex } from "viem";
import { storageMarketAbi } from "../generated/abis";
import type { ChainClients } from "../clients";
import type { MarketContracts } from "../contracts";

/** Where a published deal sits, from its `DealPublished` event. */
export interface PublishedDealEvent {
  dealId: bigint;
  dataSetId: bigint;
  pieceIndex: bigint;
  /** The publishing transaction. */
  txHash: Hex;
}

/**
 * The deal a proposal became, found by its (client, nonce) in `DealPublished` logs of
 * (client, provider) — for a publish that landed while the caller was not looking (a crash, or the
 * other party publishing the deal first).
 *
 * @param match The proposal: its client, provider, nonce and piece commitment must all agree.
 * @param fromBlock First block scanned (default 0, the whole chain).
 * @returns The deal, or undefined when no such deal was published in the range.
 */
export async function findPublishedDeal(
  c: Pick<ChainClients, "public">,
  contracts: MarketContracts,
  match: { client: Address; provider: Address; nonce: bigint; pieceCid: Hex },
  fromBlock = 0n,
): Promise<PublishedDealEvent | undefined> {
  const logs = await c.public.getContractEvents({
    address: contracts.storageMarket,
    abi: storageMarketAbi,
    eventName: "DealPublished",
    args: { client: match.client, provider: match.provider },
    fromBlock,
    strict: true,
  });
  const found = logs.find(
    (l) =>
      l.args.proposal.nonce === match.nonce && l.args.proposal.pieceCid.toLowerCase() === match.pieceCid.toLowerCase(),
  );
  if (!found) return undefined;
  return {
    dealId: found.args.dealId,
    dataSetId: found.args.dataSetId,
    pieceIndex: BigInt(found.args.pieceIndex),
    txHash: found.transactionHash,
  };
}
