import type { RepairComponents, RepairStartup } from "./components";
import type { RepairConfig } from "./config";
import type { PieceRow } from "./repair-rows";

/**
 * Carries a repair deal's extension to its pieces (issue 17 "renewal"): when the client moves the
 * repair deal's end (`extendRepairDeal`), every piece's storage deal must last until the new end,
 * so the miner, as those deals' client, signs each proposal with a later end and has its provider
 * call `extendStorageDeal` (the provider is paid `storagePricePerEpoch` for every extra epoch from
 * the worker's escrow). Storage deals end one proving period after the repair deal, as placements
 * do.
 *
 * A provider that declines or cannot be reached is asked again after `unreachableBackoffMs`; if its
 * deal still runs out inside the repair deal's term, the deal reads Expired, the watcher reports
 * the piece lost and the repairer re-places it elsewhere (RepairMarket counts an expired storage
 * deal within the term as a loss).
 */
export class StorageRenewal {
  /** Storage deal id → earliest time (ms) to ask its provider again. */
  private readonly retryAt = new Map<bigint, number>();

  constructor(
    private readonly c: Pick<RepairComponents, "storage" | "store" | "logger">,
    private readonly init: Pick<RepairConfig, "unreachableBackoffMs"> & Pick<RepairStartup, "provingPeriodEpochs">,
  ) {}

  /**
   * Extends `piece`'s storage deal, which ends at `storageEndEpoch`, to one proving period past
   * `repairEndEpoch`, unless it already lasts that long or was tried too recently.
   *
   * @returns true when the storage deal was extended now. Failures are logged (naming the
   *   provider, piece and storage deal) and retried later, never thrown.
   */
  async renew(piece: PieceRow, storageEndEpoch: bigint, repairEndEpoch: bigint): Promise<boolean> {
    const storageDealId = piece.storageDealId;
    const signed = piece.proposal;
    if (storageDealId === undefined || !signed || storageEndEpoch >= repairEndEpoch) return false;
    if ((this.retryAt.get(storageDealId) ?? 0) > Date.now()) return false;
    const target = repairEndEpoch + this.init.provingPeriodEpochs;
    const log = this.c.logger.child({
      dealId: piece.dealId,
      piece: piece.index,
      storageDealId,
      provider: piece.provider,
      stage: "extend storage deal",
    });
    try {
      // The proposal on record is the deal's current one (placement or an earlier renewal).
      const current = signed.proposal;
      const extended = await this.c.storage.extendProposal(storageDealId, current, target - current.endEpoch);
      this.c.store.updatePiece(piece.dealId, piece.index, {
        proposal: {
          ...signed,
          proposal: extended.proposal,
          clientSignature: extended.clientSignature,
          proposalHash: extended.proposalHash,
        },
      });
      this.retryAt.delete(storageDealId);
      log.info({ endEpoch: extended.proposal.endEpoch, txHash: extended.txHash }, "storage deal extended");
      return true;
    } catch (err) {
      this.retryAt.set(storageDealId, Date.now() + this.init.unreachableBackoffMs);
      log.warn(
        {
          err: (err as Error).message.split("\n")[0],
          storageEndEpoch,
          repairEndEpoch,
          retryInMs: this.init.unreachableBackoffMs,
        },
        "provider did not extend the storage deal; asking again later (it is re-placed if it runs out)",
      );
      return false;
    }
  }
}
