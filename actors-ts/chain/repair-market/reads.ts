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

/** Every repair deal made for bids on `droot` (from the events), newest last. */
export async function repairDealsByDroot(
  c: Reader,
  contracts: MarketContracts,
  droot: Hex,
  fromBlock = 0n,
): Promise<bigint[]> {
  const bids = await c.public.getContractEvents({
    address: contracts.repairMarket,
    abi: repairMarketAbi,
    eventName: "BidAdded",
    args: { droot },
    fromBlock,
  });
  const dealIds: bigint[] = [];
  for (const bid of bids) {
    const created = await c.public.getContractEvents({
      address: contracts.repairMarket,
      abi: repairMarketAbi,
      eventName: "RepairDealCreated",
      args: { bidId: bid.args.bidId },
      fromBlock,
    });
    for (const e of created) if (e.args.dealId !== undefined) dealIds.push(e.args.dealId);
  }
  return dealIds;
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
