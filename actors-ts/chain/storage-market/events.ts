import type { Address, Hex } from "viem";
import { storageMarketAbi } from "../generated/abis";
import type { ChainClients } from "../clients";
import type { MarketContracts } from "../contracts";
import type { StorageDealProposal } from "../eip712";

type Reader = Pick<ChainClients, "public">;

/**
 * StorageMarket's `DealPublished` logs, read three ways: by (client, provider) to find a proposal's
 * deal, by deal id for its terms, by client for every deal of one client. The event's indexed
 * fields (dealId, client, provider) are the filters.
 */
function dealPublishedLogs(
  c: Reader,
  contracts: MarketContracts,
  args: { dealId?: bigint; client?: Address; provider?: Address },
  fromBlock: bigint,
  toBlock?: bigint,
) {
  return c.public.getContractEvents({
    address: contracts.storageMarket,
    abi: storageMarketAbi,
    eventName: "DealPublished",
    args,
    fromBlock,
    ...(toBlock === undefined ? {} : { toBlock }),
    strict: true,
  });
}

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
  c: Reader,
  contracts: MarketContracts,
  match: { client: Address; provider: Address; nonce: bigint; pieceCid: Hex },
  fromBlock = 0n,
): Promise<PublishedDealEvent | undefined> {
  const logs = await dealPublishedLogs(c, contracts, { client: match.client, provider: match.provider }, fromBlock);
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

/** The terms a deal was published with, from its `DealPublished` event. */
export interface PublishedDealTerms {
  /** The proposal as published (pieceCid is the 32-byte CommP root; epochs are block numbers). */
  proposal: StorageDealProposal;
  dataSetId: bigint;
  pieceIndex: bigint;
  /** Block the deal was published in. */
  publishedAtBlock: bigint;
  txHash: Hex;
}

/**
 * The `DealPublished` event of `dealId` (indexed, one log read), or undefined when no deal with
 * that id was published in [fromBlock, latest]. A renewal (`DealExtended`) moves the end epoch;
 * the event keeps the original terms, so callers take the end epoch from `dealInfo`.
 */
export async function publishedDealTerms(
  c: Reader,
  contracts: MarketContracts,
  dealId: bigint,
  fromBlock = 0n,
): Promise<PublishedDealTerms | undefined> {
  const logs = await dealPublishedLogs(c, contracts, { dealId }, fromBlock);
  const log = logs[0];
  if (!log) return undefined;
  return {
    proposal: log.args.proposal,
    dataSetId: log.args.dataSetId,
    pieceIndex: BigInt(log.args.pieceIndex),
    publishedAtBlock: log.blockNumber,
    txHash: log.transactionHash,
  };
}

/** A deal `DealPublished` names, with the proposal later calls take back. */
export interface ClientDeal {
  dealId: bigint;
  proposal: StorageDealProposal;
}

/**
 * Every deal published in blocks `fromBlock`…`toBlock` (inclusive) whose client is `client`,
 * whoever published it (`DealPublished`'s indexed client). Callers keep the range small (the
 * repair settler reads at most 2,000 blocks at a time).
 */
export async function dealsPublishedFor(
  c: Reader,
  contracts: MarketContracts,
  client: Address,
  fromBlock: bigint,
  toBlock: bigint,
): Promise<ClientDeal[]> {
  const logs = await dealPublishedLogs(c, contracts, { client }, fromBlock, toBlock);
  return logs.map((l) => ({ dealId: l.args.dealId, proposal: l.args.proposal }));
}
