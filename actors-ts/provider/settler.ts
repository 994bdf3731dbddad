import { runEvery } from "../core/abort";
import { settleDeals } from "../chain/storage-market/settle-deals";
import type { ProviderContext } from "./context";
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
    private readonly ctx: ProviderContext,
    private readonly publisher: Publisher,
  ) {}

  async run(signal: AbortSignal): Promise<void> {
    await runEvery(
      this.ctx.config.settleIntervalMs,
      signal,
      () => this.tick(),
      (err) => this.ctx.logger.warn({ err }, "settlement round failed; retrying"),
    );
  }

  /** One round; returns the token base units paid. */
  async tick(): Promise<bigint> {
    const { store, logger, config } = this.ctx;
    const latest = await this.ctx.clients.public.getBlockNumber();
    const due = store.openDeals().filter((d) => d.startEpoch <= latest);
    let paid = 0n;
    for (let i = 0; i < due.length; i += SETTLE_BATCH) {
      const batch = due.slice(i, i + SETTLE_BATCH).flatMap((d) => {
        const row = store.proposal(d.proposalHash);
        return row ? [{ dealId: d.dealId, proposal: row.proposal, root: d.root }] : [];
      });
      if (batch.length === 0) continue;
      const { settled } = await settleDeals(this.ctx.clients, this.ctx.contracts, batch);
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
      if (Date.now() - p.createdAt > config.acceptedProposalTtlMs) {
        store.setProposalStatus(p.proposalHash, "expired", { reason: "no data received in time" });
      }
    }
    store.pruneNonces();
    if (paid > 0n) logger.info({ paid: paid.toString() }, "deals settled");
    return paid;
  }
}
