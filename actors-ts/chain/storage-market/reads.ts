import type { Address, Hex } from "viem";
import { storageMarketAbi } from "../generated/abis";
import type { ChainClients } from "../clients";
import type { MarketContracts } from "../contracts";
import { DEAL_STATES, type DealStateName } from "../constants";
import type { StorageDealProposal } from "../eip712";
import type { StorageMarketView } from "../view-types";

/** Views of StorageMarket that agents read (one read each; no transactions). */

type Reader = Pick<ChainClients, "public">;

/** Free and locked escrow of `account`, token base units. */
export async function escrowBalance(
  c: Reader,
  contracts: MarketContracts,
  account: Address,
): Promise<{ free: bigint; locked: bigint }> {
  const [free, locked] = await c.public.readContract({
    address: contracts.storageMarket,
    abi: storageMarketAbi,
    functionName: "balanceOf",
    args: [account],
  });
  return { free, locked };
}

/** A deal's state and placement; `stateName` is the DealState enum name. */
export async function dealInfo(
  c: Reader,
  contracts: MarketContracts,
  dealId: bigint,
): Promise<StorageMarketView<"dealInfo"> & { stateName: DealStateName }> {
  const info = await c.public.readContract({
    address: contracts.storageMarket,
    abi: storageMarketAbi,
    functionName: "dealInfo",
    args: [dealId],
  });
  return { ...info, stateName: DEAL_STATES[info.state] };
}

/** A data set's state (all zero when it does not exist). */
export async function dataSetInfo(
  c: Reader,
  contracts: MarketContracts,
  dataSetId: bigint,
): Promise<StorageMarketView<"dataSetInfo">> {
  return c.public.readContract({
    address: contracts.storageMarket,
    abi: storageMarketAbi,
    functionName: "dataSetInfo",
    args: [dataSetId],
  });
}

/** The current data set of (provider, client), 0n when the pair has none. */
export async function dataSetOf(
  c: Reader,
  contracts: MarketContracts,
  provider: Address,
  client: Address,
): Promise<bigint> {
  return c.public.readContract({
    address: contracts.storageMarket,
    abi: storageMarketAbi,
    functionName: "dataSetOf",
    args: [provider, client],
  });
}

/** Every data set `provider` ever had, oldest first (read in pages of 500). */
export async function providerDataSets(c: Reader, contracts: MarketContracts, provider: Address): Promise<bigint[]> {
  const ids: bigint[] = [];
  for (;;) {
    const [page, total] = await c.public.readContract({
      address: contracts.storageMarket,
      abi: storageMarketAbi,
      functionName: "providerDataSets",
      args: [provider, BigInt(ids.length), 500n],
    });
    ids.push(...page);
    if (page.length === 0 || BigInt(ids.length) >= total) return ids;
  }
}

/**
 * The deal and leaf offset (inside its piece) drawn by `draw` in the data set's current period
 * (at the latest block), and whether that deal is closed (then the answer is empty).
 */
export async function challengedPiece(
  c: Reader,
  contracts: MarketContracts,
  dataSetId: bigint,
  draw: bigint,
): Promise<{ dealId: bigint; leafOffset: bigint; closed: boolean }> {
  const [dealId, leafOffset, closed] = await c.public.readContract({
    address: contracts.storageMarket,
    abi: storageMarketAbi,
    functionName: "challengedPiece",
    args: [dataSetId, draw],
  });
  return { dealId, leafOffset, closed };
}

/** The deployment's parameters. */
export async function marketParams(c: Reader, contracts: MarketContracts): Promise<StorageMarketView<"marketParams">> {
  return c.public.readContract({
    address: contracts.storageMarket,
    abi: storageMarketAbi,
    functionName: "marketParams",
  });
}

/** The EIP-712 struct hash of a proposal ("terms hash"). */
export async function termsHash(c: Reader, contracts: MarketContracts, proposal: StorageDealProposal): Promise<Hex> {
  return c.public.readContract({
    address: contracts.storageMarket,
    abi: storageMarketAbi,
    functionName: "termsHash",
    args: [proposal],
  });
}

/** Whether `client` already used `nonce`. */
export async function isNonceUsed(
  c: Reader,
  contracts: MarketContracts,
  client: Address,
  nonce: bigint,
): Promise<boolean> {
  return c.public.readContract({
    address: contracts.storageMarket,
    abi: storageMarketAbi,
    functionName: "isNonceUsed",
    args: [client, nonce],
  });
}

/**
 * The blocks deal `dealId` was published in, from views alone: StorageMarket adds a piece to the
 * data set's period `addedPeriod`, which is the period of the publish block or the next one, so
 * the publish lies in [anchor + (addedPeriod − 1) · P, anchor + (addedPeriod + 1) · P) — two
 * proving periods of P epochs, whatever the deal's age (callers read its `DealPublished` log
 * there, within their lookback).
 *
 * @param info The deal's `dealInfo` (its data set and `addedPeriod`).
 * @returns The window, both ends included.
 */
export async function dealPublishWindow(
  c: Reader,
  contracts: MarketContracts,
  info: { dataSetId: bigint; addedPeriod: number },
): Promise<{ fromBlock: bigint; toBlock: bigint }> {
  const [set, params] = await Promise.all([dataSetInfo(c, contracts, info.dataSetId), marketParams(c, contracts)]);
  const period = params.provingPeriodEpochs;
  const added = BigInt(info.addedPeriod);
  return {
    fromBlock: set.anchorEpoch + (added > 0n ? added - 1n : 0n) * period,
    toBlock: set.anchorEpoch + (added + 1n) * period - 1n,
  };
}
