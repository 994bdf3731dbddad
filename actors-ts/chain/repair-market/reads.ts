import type { Address, Hex } from "viem";
import { repairMarketAbi } from "../generated/abis";
import type { ChainClients } from "../clients";
import type { MarketContracts } from "../contracts";

type Reader = Pick<ChainClients, "public">;

/** `RepairDealState` names by value. */
export const REPAIR_DEAL_STATES = ["None", "Placing", "Active", "Completed", "Lost"] as const;

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
  const deal = await c.public.readContract({
    address: contracts.repairMarket,
    abi: repairMarketAbi,
    functionName: "getDeal",
    args: [dealId],
  });
  const n = deal.codingParams.k + deal.codingParams.m;
  const pieces = [];
  for (let index = 0; index < n; index++) {
    const slot = await c.public.readContract({
      address: contracts.repairMarket,
      abi: repairMarketAbi,
      functionName: "pieceSlot",
      args: [dealId, BigInt(index)],
    });
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
