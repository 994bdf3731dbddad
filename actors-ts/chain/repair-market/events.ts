import type { Hex } from "viem";
import { repairMarketAbi, storageMarketAbi } from "../generated/abis";
import type { ChainClients } from "../clients";
import type { MarketContracts } from "../contracts";

type Reader = Pick<ChainClients, "public">;

/** What the repair miner's watcher follows in one block range (both ends included). */
export interface RepairMinerEvents {
  /** Repair deals created for the miner: id and droot. */
  created: { dealId: bigint; droot: Hex }[];
  /** Pieces reported lost (any miner's; the caller matches its own slots). */
  lost: { dealId: bigint; index: number; storageDealId: bigint; blockNumber: bigint | null }[];
  /** The miner's repair deals whose file was lost, with the client's refund (token base units). */
  fileLost: { dealId: bigint; clientRefund: bigint }[];
  /** Names of the StorageMarket events in the range (a fault or a closed deal asks for a sweep). */
  storageEventNames: string[];
}

/**
 * RepairMarket's `RepairDealCreated`, `PieceLost` and `FileLost` for miner `minerId`, and the
 * names of StorageMarket's events, in blocks [fromBlock, toBlock] — four `eth_getLogs` calls, so
 * callers bound the range to what their endpoint accepts.
 *
 * @throws viem's RPC errors (a range the endpoint refuses among them).
 */
export async function repairMinerEvents(
  c: Reader,
  contracts: MarketContracts,
  minerId: bigint,
  fromBlock: bigint,
  toBlock: bigint,
): Promise<RepairMinerEvents> {
  const range = { fromBlock, toBlock };
  const [created, lost, fileLost, storage] = await Promise.all([
    c.public.getContractEvents({
      address: contracts.repairMarket,
      abi: repairMarketAbi,
      eventName: "RepairDealCreated",
      args: { minerId },
      ...range,
    }),
    c.public.getContractEvents({
      address: contracts.repairMarket,
      abi: repairMarketAbi,
      eventName: "PieceLost",
      ...range,
    }),
    c.public.getContractEvents({
      address: contracts.repairMarket,
      abi: repairMarketAbi,
      eventName: "FileLost",
      args: { minerId },
      ...range,
    }),
    c.public.getContractEvents({ address: contracts.storageMarket, abi: storageMarketAbi, ...range }),
  ]);
  return {
    created: created.map((e) => ({ dealId: e.args.dealId as bigint, droot: e.args.droot as Hex })),
    lost: lost.map((e) => ({
      dealId: e.args.dealId as bigint,
      index: Number(e.args.index),
      storageDealId: e.args.storageDealId as bigint,
      blockNumber: e.blockNumber,
    })),
    fileLost: fileLost.map((e) => ({ dealId: e.args.dealId as bigint, clientRefund: e.args.clientRefund as bigint })),
    storageEventNames: storage.map((e) => e.eventName),
  };
}

/**
 * The repair deal miner `minerId` made from bid `bidId` (`RepairDealCreated`), scanned from
 * block 0, or undefined when there is none.
 */
export async function repairDealOfBid(
  c: Reader,
  contracts: MarketContracts,
  bidId: bigint,
  minerId: bigint,
): Promise<{ dealId: bigint; txHash: Hex } | undefined> {
  const events = await c.public.getContractEvents({
    address: contracts.repairMarket,
    abi: repairMarketAbi,
    eventName: "RepairDealCreated",
    args: { bidId, minerId },
    fromBlock: 0n,
  });
  const event = events[0];
  return event?.args.dealId ? { dealId: event.args.dealId, txHash: event.transactionHash } : undefined;
}

/** Every repair ask ever added (`RepairAskAdded`, from block 0), oldest first; read each with `getAsk`. */
export async function repairAskIds(c: Reader, contracts: MarketContracts): Promise<bigint[]> {
  const added = await c.public.getContractEvents({
    address: contracts.repairMarket,
    abi: repairMarketAbi,
    eventName: "RepairAskAdded",
    fromBlock: 0n,
  });
  return added.map((e) => e.args.askId as bigint);
}
