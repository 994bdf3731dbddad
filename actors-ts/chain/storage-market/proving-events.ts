import type { Address, Hex } from "viem";
import { storageMarketAbi } from "../generated/abis";
import type { ChainClients } from "../clients";
import { InvalidArgumentError } from "../../core/errors";

type Reader = Pick<ChainClients, "public">;

/** Most blocks one `provingEvents` call covers (both ends included): what public endpoints accept. */
export const MAX_PROVING_LOG_RANGE_BLOCKS = 2000n;

/**
 * One period of a data set as the chain recorded it: `PossessionProven` ("proven") or
 * `FaultRecorded` ("fault", a missed period someone reported).
 */
export interface ProvingEvent {
  kind: "proven" | "fault";
  /** Lower-case provider address. */
  provider: string;
  dataSetId: bigint;
  /** Proving period of the data set (0-based). */
  period: number;
  blockNumber: bigint;
  logIndex: number;
  txHash: Hex;
  /** Timestamp of the block, ms since the epoch. */
  blockTimeMs: number;
}

/**
 * StorageMarket's `PossessionProven` and `FaultRecorded` in blocks [fromBlock, toBlock], oldest
 * first, each with its block's timestamp: two `eth_getLogs` calls and one `eth_getBlockByNumber`
 * per block that has events (decisions 33: the proving component of a provider's reputation).
 *
 * @param storageMarket The StorageMarket contract.
 * @throws InvalidArgumentError when the range is empty or longer than `MAX_PROVING_LOG_RANGE_BLOCKS`;
 *   viem's RPC errors otherwise.
 */
export async function provingEvents(
  c: Reader,
  storageMarket: Address,
  fromBlock: bigint,
  toBlock: bigint,
): Promise<ProvingEvent[]> {
  if (toBlock < fromBlock || toBlock - fromBlock + 1n > MAX_PROVING_LOG_RANGE_BLOCKS)
    throw new InvalidArgumentError("proving events: a range of 1 to 2000 blocks is read at a time", {
      details: { fromBlock: String(fromBlock), toBlock: String(toBlock) },
    });
  const range = { address: storageMarket, abi: storageMarketAbi, fromBlock, toBlock, strict: true } as const;
  const [proven, faults] = await Promise.all([
    c.public.getContractEvents({ ...range, eventName: "PossessionProven" }),
    c.public.getContractEvents({ ...range, eventName: "FaultRecorded" }),
  ]);
  const events = [
    ...proven.map((e) => ({
      kind: "proven" as const,
      e,
      provider: e.args.provider,
      dataSetId: e.args.dataSetId,
      period: e.args.period,
    })),
    ...faults.map((e) => ({
      kind: "fault" as const,
      e,
      provider: e.args.provider,
      dataSetId: e.args.dataSetId,
      period: e.args.period,
    })),
  ];
  const times = await blockTimesMs(
    c,
    events.map((x) => x.e.blockNumber),
  );
  return events
    .map((x) => ({
      kind: x.kind,
      provider: x.provider.toLowerCase(),
      dataSetId: x.dataSetId,
      period: Number(x.period),
      blockNumber: x.e.blockNumber,
      logIndex: x.e.logIndex,
      txHash: x.e.transactionHash,
      blockTimeMs: times.get(x.e.blockNumber) ?? 0,
    }))
    .sort((a, b) =>
      a.blockNumber === b.blockNumber ? a.logIndex - b.logIndex : a.blockNumber < b.blockNumber ? -1 : 1,
    );
}

/** Timestamps of the given blocks (each read once), ms. */
async function blockTimesMs(c: Reader, blocks: bigint[]): Promise<Map<bigint, number>> {
  const unique = [...new Set(blocks)];
  const read = await Promise.all(unique.map((blockNumber) => c.public.getBlock({ blockNumber })));
  return new Map(read.map((b, i) => [unique[i], Number(b.timestamp) * 1000]));
}

/**
 * The first block whose timestamp is at least `timeMs` (the head + 1 when none is), by binary
 * search over block numbers: about log2(head) block reads, so a first scan of a long chain starts
 * where a time window does instead of at block 0.
 *
 * @param timeMs ms since the epoch.
 * @param head The chain head's number (read when not given).
 * @throws viem's RPC errors.
 */
export async function firstBlockAtOrAfter(c: Reader, timeMs: number, head?: bigint): Promise<bigint> {
  const top = head ?? (await c.public.getBlockNumber());
  const at = async (blockNumber: bigint): Promise<number> =>
    Number((await c.public.getBlock({ blockNumber })).timestamp) * 1000;
  let lo = 0n;
  let hi = top + 1n;
  while (lo < hi) {
    const mid = (lo + hi) / 2n;
    if ((await at(mid)) >= timeMs) hi = mid;
    else lo = mid + 1n;
  }
  return lo;
}
