import type { Address, Hex } from "viem";
import { repairMarketAbi } from "../generated/abis";
import { repairDealStateNames } from "../generated/types";
import type { ChainClients } from "../clients";
import type { MarketContracts } from "../contracts";
import type { RepairMarketView } from "../view-types";

type Reader = Pick<ChainClients, "public">;

/** `RepairDealState` names by value. */
export const REPAIR_DEAL_STATES = repairDealStateNames;

/**
 * Typed RepairMarket views, one function each, so agents never hold the ABI themselves. All
 * return what the contract's view returns (viem's decoded structs); ids and epochs are bigints,
 * amounts token base units. They throw viem's errors when the RPC endpoint fails.
 */
export function getRepairDeal(
  c: Reader,
  contracts: MarketContracts,
  dealId: bigint,
): Promise<RepairMarketView<"getDeal">> {
  return c.public.readContract({
    address: contracts.repairMarket,
    abi: repairMarketAbi,
    functionName: "getDeal",
    args: [dealId],
  });
}

/** Piece `index` of repair deal `dealId`: storage deal, provider, loss epoch, flags. */
export function getPieceSlot(
  c: Reader,
  contracts: MarketContracts,
  dealId: bigint,
  index: number,
): Promise<RepairMarketView<"pieceSlot">> {
  return c.public.readContract({
    address: contracts.repairMarket,
    abi: repairMarketAbi,
    functionName: "pieceSlot",
    args: [dealId, BigInt(index)],
  });
}

/** A client's bid (funds locked, droot, coding parameters, state). */
export function getBid(c: Reader, contracts: MarketContracts, bidId: bigint): Promise<RepairMarketView<"getBid">> {
  return c.public.readContract({
    address: contracts.repairMarket,
    abi: repairMarketAbi,
    functionName: "getBid",
    args: [bidId],
  });
}

/** A repair miner (owner, worker, pledge, power, endpoint). */
export function getMiner(
  c: Reader,
  contracts: MarketContracts,
  minerId: bigint,
): Promise<RepairMarketView<"getMiner">> {
  return c.public.readContract({
    address: contracts.repairMarket,
    abi: repairMarketAbi,
    functionName: "getMiner",
    args: [minerId],
  });
}

/** A repair ask (miner, price per byte per epoch, size limit, expiry, active). */
export function getAsk(c: Reader, contracts: MarketContracts, askId: bigint): Promise<RepairMarketView<"getAsk">> {
  return c.public.readContract({
    address: contracts.repairMarket,
    abi: repairMarketAbi,
    functionName: "getAsk",
    args: [askId],
  });
}

/** The market's fixed parameters (pledge per byte, windows, slashes, bounties). */
export function getRepairParams(c: Reader, contracts: MarketContracts): Promise<RepairMarketView<"repairParams">> {
  return c.public.readContract({
    address: contracts.repairMarket,
    abi: repairMarketAbi,
    functionName: "repairParams",
  });
}

/** What `account` may withdraw from RepairMarket (refunds, slash shares, claimed earnings), token base units. */
export function repairBalanceOf(c: Reader, contracts: MarketContracts, account: Address): Promise<bigint> {
  return c.public.readContract({
    address: contracts.repairMarket,
    abi: repairMarketAbi,
    functionName: "balanceOf",
    args: [account],
  });
}

/** Where each piece of a repair deal lives. */
export interface RepairDealPieces {
  dealId: bigint;
  state: (typeof REPAIR_DEAL_STATES)[number];
  minerId: bigint;
  pieces: { index: number; provider: Address; storageDealId: bigint; lost: boolean }[];
}

/** A repair deal and its piece slots. */
export async function repairDealPieces(
  c: Reader,
  contracts: MarketContracts,
  dealId: bigint,
): Promise<RepairDealPieces> {
  const deal = await getRepairDeal(c, contracts, dealId);
  const n = deal.codingParams.k + deal.codingParams.m;
  const pieces = [];
  for (let index = 0; index < n; index++) {
    const slot = await getPieceSlot(c, contracts, dealId, index);
    if (slot.storageDealId === 0n) continue;
    pieces.push({ index, provider: slot.provider, storageDealId: slot.storageDealId, lost: slot.lostAtEpoch !== 0n });
  }
  return { dealId, state: REPAIR_DEAL_STATES[deal.state], minerId: deal.minerId, pieces };
}

/** Most deal ids read per `dealsOfDroot` call. */
const DEALS_PAGE = 100n;

/**
 * Repair deals made for bids on `droot`, oldest first, from the `dealsOfDroot` view (no log
 * scan). Anyone can make deals for any droot, so at most the newest `limit` are returned.
 *
 * @param limit Most deals returned (default 500), the newest ones.
 */
export async function repairDealsByDroot(
  c: Reader,
  contracts: MarketContracts,
  droot: Hex,
  limit = 500n,
): Promise<bigint[]> {
  const page = (offset: bigint) =>
    c.public.readContract({
      address: contracts.repairMarket,
      abi: repairMarketAbi,
      functionName: "dealsOfDroot",
      args: [droot, offset, DEALS_PAGE],
    });
  const [total] = await page(0n);
  const ids: bigint[] = [];
  for (let offset = total > limit ? total - limit : 0n; offset < total; offset += DEALS_PAGE) {
    const [, dealIds] = await page(offset);
    ids.push(...dealIds);
  }
  return ids.slice(-Number(limit));
}

/**
 * Every repair deal miner `minerId` made, oldest first, from the `dealsOfMiner` view (no log
 * scan): how a miner that lost its database finds its deals.
 */
export async function repairDealsOfMiner(c: Reader, contracts: MarketContracts, minerId: bigint): Promise<bigint[]> {
  const ids: bigint[] = [];
  for (let offset = 0n; ; offset += DEALS_PAGE) {
    const [total, page] = await c.public.readContract({
      address: contracts.repairMarket,
      abi: repairMarketAbi,
      functionName: "dealsOfMiner",
      args: [minerId, offset, DEALS_PAGE],
    });
    ids.push(...page);
    if (offset + DEALS_PAGE >= total) return ids;
  }
}

/**
 * The repair deal miner `minerId` made from bid `bidId`, found among the deals of the bid's droot
 * (`dealsOfDroot`, then `getDeal`), or undefined when there is none.
 */
export async function repairDealOfBid(
  c: Reader,
  contracts: MarketContracts,
  bidId: bigint,
  minerId: bigint,
): Promise<bigint | undefined> {
  const bid = await getBid(c, contracts, bidId);
  for (const dealId of (await repairDealsByDroot(c, contracts, bid.droot)).reverse()) {
    const deal = await getRepairDeal(c, contracts, dealId);
    if (deal.bidId === bidId && deal.minerId === minerId) return dealId;
  }
  return undefined;
}

/**
 * Every miner's newest ask that is still active, from the `counts` and `latestAskOf` views (no
 * log scan): one ask per miner, in miner order. Callers check expiry and size.
 *
 * @returns Ask ids.
 */
export async function latestActiveAskIds(c: Reader, contracts: MarketContracts): Promise<bigint[]> {
  const [miners] = await c.public.readContract({
    address: contracts.repairMarket,
    abi: repairMarketAbi,
    functionName: "counts",
  });
  const ids: bigint[] = [];
  for (let minerId = 1n; minerId <= miners; minerId++) {
    const askId = await latestAskOf(c, contracts, minerId);
    if (askId !== 0n && (await getAsk(c, contracts, askId)).active) ids.push(askId);
  }
  return ids;
}

/** Miner `minerId`'s newest ask id (`latestAskOf`), 0 when it has none. */
export function latestAskOf(c: Reader, contracts: MarketContracts, minerId: bigint): Promise<bigint> {
  return c.public.readContract({
    address: contracts.repairMarket,
    abi: repairMarketAbi,
    functionName: "latestAskOf",
    args: [minerId],
  });
}

/**
 * The repair miner `worker` serves (a worker serves at most one), from the `minerOfWorker` view,
 * or undefined when there is none. One view call; no log scan.
 */
export async function repairMinerOfWorker(
  c: Reader,
  contracts: MarketContracts,
  worker: Address,
): Promise<bigint | undefined> {
  const minerId = await c.public.readContract({
    address: contracts.repairMarket,
    abi: repairMarketAbi,
    functionName: "minerOfWorker",
    args: [worker],
  });
  return minerId === 0n ? undefined : minerId;
}
