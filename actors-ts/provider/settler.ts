import { settleDeals } from "../chain/storage-market/settle-deals";
import { dataSetInfo, dealInfo } from "../chain/storage-market/reads";
import { isRevert } from "../chain/contract-errors";
import type { DealRow } from "./provider-store";
import type { ProviderComponents, ProviderInit } from "./components";
import type { Publisher } from "./publisher";

/** Deals settled per transaction. */
const SETTLE_BATCH = 25;

/**
 * Pulls payment (DESIGN.md "Payment is pulled"): every `settleIntervalMs` it settles the
 * provider's open deals, records the ones that closed, deletes pieces no open deal needs, expires
 * proposals whose data never came, and prunes old request nonces.
 */
export class Settler {
  constructor(
    private readonly c: Pick<ProviderComponents, "clients" | "contracts" | "logger" | "loops" | "store">,
    private readonly init: Pick<ProviderInit, "acceptedProposalTtlMs" | "holdingsLogKeep" | "settleIntervalMs">,
    private readonly publisher: Publisher,
  ) {}

  async run(signal: AbortSignal): Promise<void> {
    await this.c.loops.run(
      "settler",
      this.init.settleIntervalMs,
      signal,
      () => this.tick(),
      (err) => this.c.logger.warn({ err }, "settlement round failed; retrying"),
    );
  }

  /**
   * The deals whose data set's tree may change now (its period is proven, or its challenge epoch
   * is still ahead): closing a deal then takes its piece out at once, so the daemon never has to
   * answer draws in a piece it has already deleted (decisions 23).
   */
  private async settleable(deals: DealRow[], latest: bigint): Promise<DealRow[]> {
    const open = new Map<bigint, boolean>();
    for (const id of new Set(deals.map((d) => d.dataSetId))) {
      const set = await dataSetInfo(this.c.clients, this.c.contracts, id);
      open.set(id, set.currentPeriodProven || latest + 1n < set.challengeEpoch || set.anchorEpoch === 0n);
    }
    return deals.filter((d) => open.get(d.dataSetId));
  }

  /** One round; returns the token base units paid. */
  async tick(): Promise<bigint> {
    const { store, logger } = this.c;
    const latest = await this.c.clients.public.getBlockNumber();
    const due = await this.settleable(
      store.openDeals().filter((d) => d.startEpoch <= latest),
      latest,
    );
    let paid = 0n;
    for (let i = 0; i < due.length; i += SETTLE_BATCH) {
      const batch = due.slice(i, i + SETTLE_BATCH).flatMap((d) => {
        const row = store.proposal(d.proposalHash);
        return row ? [{ dealId: d.dealId, proposal: row.proposal, root: d.root }] : [];
      });
      if (batch.length === 0) continue;
      let settled;
      try {
        ({ settled } = await settleDeals(this.c.clients, this.c.contracts, batch));
      } catch (err) {
        if (!isRevert(err, "DealNotOpen")) throw err;
        // Someone else settled a deal closed; record it and retry the rest next round.
        for (const b of batch) {
          const info = await dealInfo(this.c.clients, this.c.contracts, b.dealId);
          if (info.closed) store.closeDeal(b.dealId, `closed on chain (${info.stateName})`);
        }
        continue;
      }
      for (const s of settled) {
        paid += s.payment;
        if (s.closed) {
          store.closeDeal(s.dealId, s.closed);
          const root = batch.find((b) => b.dealId === s.dealId)?.root;
          if (root) this.publisher.releasePieceIfUnused(root);
          logger.info({ dealId: s.dealId.toString(), reason: s.closed }, "deal closed");
        }
      }
    }
    for (const p of store.proposalsWithStatus("accepted")) {
      if (Date.now() - p.createdAt > this.init.acceptedProposalTtlMs) {
        store.setProposalStatus(p.proposalHash, "expired", { reason: "no data received in time" });
      }
    }
    store.pruneNonces();
    const dropped = store.holdings.compact(this.init.holdingsLogKeep);
    if (dropped > 0) logger.debug({ dropped, kept: store.holdings.size() }, "holdings log compacted");
    if (paid > 0n) logger.info({ paid: paid.toString() }, "deals settled");
    return paid;
  }
}
