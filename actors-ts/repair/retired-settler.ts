import { settleDeals } from "../chain/storage-market/settle-deals";
import { dealInfo } from "../chain/storage-market/reads";
import type { RepairComponents } from "./components";

/**
 * Settles the storage deals that repairs replaced. A dead provider's deal ends Terminated (its
 * data set failed) or Expired, but its unspent price lock and the share of the provider's
 * slashed collateral owed to the client (the worker) stay locked in StorageMarket until someone
 * calls `settleDeals`; the worker is that deal's client, so it does. A deal that is still open
 * (a provider that came back) is left alone and looked at again next round; one that anyone
 * else already closed is just marked done.
 */
export class RetiredDealSettler {
  constructor(private readonly c: Pick<RepairComponents, "clients" | "contracts" | "store" | "logger">) {}

  /**
   * One round over every retired deal not yet seen closed, each settled in its own transaction
   * (one stale proposal must not block the others).
   *
   * @returns The storage deal ids closed by this round.
   */
  async tick(): Promise<bigint[]> {
    const { clients, contracts, store, logger } = this.c;
    const closed: bigint[] = [];
    for (const retired of store.retiredStorageDeals()) {
      const id = retired.storageDealId;
      try {
        const info = await dealInfo(clients, contracts, id);
        if (info.closed) {
          store.markRetiredSettled(id);
          continue;
        }
        if (info.stateName !== "Terminated" && info.stateName !== "Expired") continue;
        const { hash, settled } = await settleDeals(clients, contracts, [{ dealId: id, proposal: retired.proposal }]);
        const [result] = settled;
        if (result?.closed) {
          store.markRetiredSettled(id);
          closed.push(id);
          logger.info(
            { storageDealId: id.toString(), closed: result.closed, payment: result.payment.toString(), txHash: hash },
            "replaced storage deal settled: its locked funds are back in the worker's escrow",
          );
        }
      } catch (err) {
        store.markRetiredError(id, (err as Error).message.split("\n")[0]);
        logger.warn({ err, storageDealId: id.toString() }, "could not settle a replaced storage deal; will retry");
      }
    }
    return closed;
  }
}
