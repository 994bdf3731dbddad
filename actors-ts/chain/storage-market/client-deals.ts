import { storageMarketAbi } from "../generated/abis";
import type { ChainClients } from "../clients";
import type { MarketContracts } from "../contracts";
import type { StorageDealProposal } from "../eip712";

type Reader = Pick<ChainClients, "public">;

/**
 * Token base units `settleDeals` has moved from the client's lock to the provider for `dealId`
 * so far (Σ `DealSettled.payment` from `fromBlock`, the deployment block).
 */
export async function paidSoFar(
  c: Reader,
  contracts: MarketContracts,
  dealId: bigint,
  fromBlock: bigint,
): Promise<bigint> {
  const logs = await c.public.getContractEvents({
    address: contracts.storageMarket,
    abi: storageMarketAbi,
    eventName: "DealSettled",
    args: { dealId },
    fromBlock,
    strict: true,
  });
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
