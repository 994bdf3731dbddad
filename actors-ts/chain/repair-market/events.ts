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
 * The transaction that created repair deal `dealId`: its `RepairDealCreated` log, read from the
 * one block the deal started in (`startEpoch`), so the lookback is a single block.
 *
 * @returns The transaction hash, or undefined when the log is not there (or the endpoint no
 *   longer serves that block's logs).
 */
export async function repairDealCreationTx(
  c: Reader,
  contracts: MarketContracts,
  dealId: bigint,
  startEpoch: bigint,
): Promise<Hex | undefined> {
  const logs = await c.public
    .getContractEvents({
      address: contracts.repairMarket,
      abi: repairMarketAbi,
      eventName: "RepairDealCreated",
      args: { dealId },
      fromBlock: startEpoch,
      toBlock: startEpoch,
    })
    .catch(() => []);
  return logs[0]?.transactionHash;
}
