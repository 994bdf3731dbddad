import { getMiner, repairBalanceOf } from "../chain/repair-market/reads";
import { escrowBalance } from "../chain/storage-market/reads";
import type { RepairEscrowResponse } from "../protocol/repair-api";
import type { RepairComponents, RepairStartup } from "./components";
import type { RepairConfig } from "./config";
import type { StorageDealSettler } from "./deal-settler";
import { placementReserve } from "./withdrawer";

/**
 * The daemon's escrow view (GET /repair/escrow, issue 17): the worker's StorageMarket free and
 * locked escrow, its RepairMarket balance, the miner's pledge, what the worker's ended storage
 * deals still lock (`lockedForEndedDeals`, 0 once the settler has closed them all), the reserve
 * the withdraw loop keeps and where it sends tokens. Everything is read from the chain now;
 * amounts are token base units.
 *
 * @throws viem's RPC errors.
 */
export async function escrowView(
  c: Pick<RepairComponents, "clients" | "contracts" | "store">,
  settler: Pick<StorageDealSettler, "endedLocks">,
  init: Pick<RepairConfig, "withdrawIntervalMs" | "withdrawTo"> &
    Pick<RepairStartup, "minerId" | "provingPeriodEpochs">,
): Promise<RepairEscrowResponse> {
  const { clients, contracts, store } = c;
  const worker = clients.account.address;
  const [escrow, balance, miner, ended, reserve] = await Promise.all([
    escrowBalance(clients, contracts, worker),
    repairBalanceOf(clients, contracts, worker),
    getMiner(clients, contracts, init.minerId),
    settler.endedLocks(),
    placementReserve(c, init.provingPeriodEpochs),
  ]);
  return {
    minerId: init.minerId.toString(),
    worker,
    storageMarket: { free: escrow.free.toString(), locked: escrow.locked.toString() },
    repairMarket: { balance: balance.toString(), pledge: miner.pledge.toString() },
    lockedForEndedDeals: ended.reduce((sum, d) => sum + d.locked, 0n).toString(),
    endedDeals: ended.map((d) => ({
      storageDealId: d.storageDealId.toString(),
      state: d.state,
      locked: d.locked.toString(),
    })),
    placementReserve: reserve.toString(),
    pendingSettlements: store.workerDeals.pending().length,
    withdrawTo: init.withdrawIntervalMs > 0 ? (init.withdrawTo ?? miner.owner) : undefined,
  };
}
