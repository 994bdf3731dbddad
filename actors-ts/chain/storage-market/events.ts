import type { Address, Hex } from "viem";
import { storageMarketAbi } from "../generated/abis";
import type { ChainClients } from "../clients";
import type { MarketContracts } from "../contracts";
import type { StorageDealProposal } from "../eip712";
import { scanNewestFirst, type BlockWindow } from "../log-scan";

type Reader = Pick<ChainClients, "public">;
type Scanner = Pick<ChainClients, "public" | "logLimits">;

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
 * Where a proposal's deal can have been published: StorageMarket publishes a proposal only before
 * its `startEpoch` (a piece must be provable from its first period), so the window ends there
 * (or at the head) and reaches back the lookback.
 */
export function publishWindow(proposal: { startEpoch: bigint }): BlockWindow {
  return { fromBlock: 0n, toBlock: proposal.startEpoch };
}

/**
 * The deal a proposal became, found by its (client, nonce) in `DealPublished` logs of
 * (client, provider) — for a publish that landed while the caller was not looking (a crash, or the
 * other party publishing the deal first). Reads `window` newest range first, in ranges and no
 * further back than the clients' `logLimits`, and stops at the match.
 *
 * @param match The proposal: its client, provider, nonce and piece commitment must all agree.
 * @param window Blocks to search (default {@link publishWindow} of a proposal starting at `startEpoch`).
 * @returns The deal, or undefined when no such deal was published in the window.
 */
export async function findPublishedDeal(
  c: Scanner,
  contracts: MarketContracts,
  match: { client: Address; provider: Address; nonce: bigint; pieceCid: Hex; startEpoch: bigint },
  window: BlockWindow = publishWindow(match),
): Promise<PublishedDealEvent | undefined> {
  const matches = (l: { args: { proposal: { nonce: bigint; pieceCid: Hex } } }): boolean =>
    l.args.proposal.nonce === match.nonce && l.args.proposal.pieceCid.toLowerCase() === match.pieceCid.toLowerCase();
  const logs = await scanNewestFirst(
    c,
    window,
    (range) =>
      dealPublishedLogs(
        c,
        contracts,
        { client: match.client, provider: match.provider },
        range.fromBlock,
        range.toBlock,
      ),
    (found) => found.some(matches),
  );
  const found = logs.find(matches);
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
 * The `DealPublished` event of `dealId` (indexed), searched in `window` newest range first within
 * the clients' `logLimits`, or undefined when it is not there. A renewal (`DealExtended`) moves
 * the end epoch; the event keeps the original terms, so callers take the end epoch from
 * `dealInfo`.
 */
export async function publishedDealTerms(
  c: Scanner,
  contracts: MarketContracts,
  dealId: bigint,
  window: BlockWindow,
): Promise<PublishedDealTerms | undefined> {
  const logs = await scanNewestFirst(
    c,
    window,
    (range) => dealPublishedLogs(c, contracts, { dealId }, range.fromBlock, range.toBlock),
    (found) => found.length > 0,
  );
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
