import { storageMarketAbi } from "../generated/abis";
import type { ChainClients } from "../clients";
import type { MarketContracts } from "../contracts";
import type { StorageDealProposal } from "../eip712";
import { scanNewestFirst } from "../log-scan";

/**
 * Token base units `settleDeals` has moved from the client's lock to the provider for `dealId`
 * (Σ `DealSettled.payment` from `fromBlock`, in ranges, within the clients' log lookback). A
 * settlement older than the lookback is not counted, so for a long-lived deal this is a lower
 * bound (StorageMarket keeps no per-deal paid total to read instead).
 */
export async function paidSoFar(
  c: Pick<ChainClients, "public" | "logLimits">,
  contracts: MarketContracts,
  dealId: bigint,
  fromBlock: bigint,
): Promise<bigint> {
  const logs = await scanNewestFirst(c, { fromBlock, toBlock: await c.public.getBlockNumber() }, (range) =>
    c.public.getContractEvents({
      address: contracts.storageMarket,
      abi: storageMarketAbi,
      eventName: "DealSettled",
      args: { dealId },
      ...range,
      strict: true,
    }),
  );
  return logs.reduce((sum, l) => sum + l.args.payment, 0n);
}

/**
 * What an open deal still holds of its client's escrow, token base units: the whole lock
 * (`storagePricePerEpoch · (endEpoch − startEpoch) + clientCollateral`, StorageMarket's publish)
 * less what was paid to the provider (`paid`). Closing the deal returns exactly this to the
 * client's free balance (DealLedger `_close`'s `clientRefund`).
 */
export function clientLockLeft(proposal: StorageDealProposal, paid: bigint): bigint {
  const lock = proposal.storagePricePerEpoch * (proposal.endEpoch - proposal.startEpoch) + proposal.clientCollateral;
  return lock > paid ? lock - paid : 0n;
}
