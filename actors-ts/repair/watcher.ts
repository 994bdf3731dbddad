import { advanceCheckpoint } from "../chain/checkpoint";
import { ContractRevertedError } from "../chain/contract-errors";
import { repairMinerEvents } from "../chain/repair-market/events";
import { confirmPieceOnChain, reportPieceLoss } from "../chain/repair-market/actions";
import { REPAIR_DEAL_STATES, getPieceSlot, getRepairDeal } from "../chain/repair-market/reads";
import { nextCursorRange } from "../chain/log-scan";
import { ScanCheckpoints } from "../chain/scan-checkpoints";
import { OrphanRecovery } from "./orphan-recovery";
import { dealInfo } from "../chain/storage-market/reads";
import type { RepairComponents, RepairStartup } from "./components";
import type { RepairConfig } from "./config";
import type { PieceRow } from "./repair-store";
import { StorageRenewal } from "./storage-renewal";

const CURSOR_KEY = "watcher.cursor";

/**
 * Follows the chain for the miner's deals (issue "Detection and the repair queue"):
 *
 * - a log scan from a persisted block cursor, `confirmations` blocks behind the head, in ranges of
 *   the clients' `logLimits` and never further back than their lookback, over RepairMarket's
 *   RepairDealCreated (ours: unknown ones are orphans), PieceLost and FileLost, and
 *   StorageMarket's FaultRecorded, DataSetFailed and DealClosed (which trigger an immediate
 *   health sweep). The block hash at the end of each range is kept ({@link ScanCheckpoints}): a
 *   reorganisation deeper than `confirmations` is noticed, logged, the cursor rewound to the
 *   newest block still on the chain and the range read again, and losses it undid are restored;
 * - the miner's deals from the `dealsOfMiner` view at start-up and whenever the cursor had to skip
 *   blocks older than the lookback, so no deal depends on an old log;
 * - a health sweep of every assigned piece's storage deal: StorageMarket computes missed periods
 *   lazily, so a dead provider shows up as Faulted in `dealInfo` even before anyone reports it.
 *   A faulted or terminated piece (or one whose storage deal ran out inside the repair deal's
 *   term) is reported with `reportPieceLoss` and queued for repair; after the client extends the
 *   repair deal, each piece's storage deal is extended to match (`StorageRenewal`);
 * - orphan recovery (seed 002): a deal known on chain whose manifest the miner lacks is rebuilt
 *   from the chain's piece slots and a manifest fetched by droot from providers and verified
 *   against it.
 */
export class Watcher {
  private readonly renewal: StorageRenewal;
  private readonly checkpoints: ScanCheckpoints;
  private readonly orphans: OrphanRecovery;
  /** Read the miner's deals from views on the next tick (start-up, or blocks were skipped). */
  private syncFromViews = true;

  constructor(
    private readonly c: Pick<
      RepairComponents,
      "clients" | "contracts" | "logger" | "providers" | "storage" | "store" | "wake"
    >,
    private readonly init: Pick<RepairConfig, "confirmations" | "unreachableBackoffMs" | "watchIntervalMs"> &
      Pick<RepairStartup, "deployBlock" | "minerId" | "provingPeriodEpochs">,
  ) {
    this.renewal = new StorageRenewal(c, init);
    this.checkpoints = new ScanCheckpoints(c.store, "watcher.checkpoints");
    this.orphans = new OrphanRecovery(c, init);
  }

  /** One pass: scan logs, recover orphans, sweep health, follow deal ends. */
  async tick(): Promise<void> {
    await advanceCheckpoint(this.c.clients, this.c.store);
    const reorganised = await this.checkForReorg();
    if (this.syncFromViews) {
      await this.orphans.discoverFromViews();
      this.syncFromViews = false;
    }
    const sweepNow = await this.scanLogs();
    await this.orphans.recover();
    await this.sweep(sweepNow || reorganised);
  }

  /**
   * Compares the block hash kept at the end of the last ranges read with the chain's. When the
   * newest no longer matches, the chain reorganised deeper than `confirmations`: the cursor goes
   * back to the newest kept block still on the chain (or the start) and the blocks after it are
   * read again; losses reported from logs the reorganisation removed are restored.
   *
   * @returns true when a reorganisation was found.
   */
  private async checkForReorg(): Promise<boolean> {
    const { clients, store, logger } = this.c;
    const found = await this.checkpoints.findDivergence(clients);
    if (!found) return false;
    const rewindTo = found.lastGood?.blockNumber ?? this.init.deployBlock - 1n;
    store.set(CURSOR_KEY, rewindTo.toString());
    logger.warn(
      {
        block: found.changed.blockNumber,
        expectedHash: found.changed.hash,
        chainHash: found.chainHash,
        rewindTo,
        confirmations: this.init.confirmations,
      },
      "chain reorganised deeper than the confirmations: rewinding the log cursor and reading again",
    );
    await this.restoreUndoneLosses();
    return true;
  }

  /**
   * After a reorganisation: a piece marked lost whose repair has not started, but whose slot the
   * chain shows healthy on the same storage deal, was lost only in the blocks that went away. It
   * goes back to assigned and leaves its queued job.
   */
  private async restoreUndoneLosses(): Promise<void> {
    const { store, clients, contracts, logger } = this.c;
    for (const job of store.jobs.list(["queued"])) {
      const restored: number[] = [];
      for (const index of job.indices) {
        const piece = store.piece(job.dealId, index);
        if (!piece || piece.state !== "lost" || piece.storageDealId === undefined) continue;
        const slot = await getPieceSlot(clients, contracts, job.dealId, index);
        if (slot.lostAtEpoch !== 0n || slot.storageDealId !== piece.storageDealId) continue;
        if ((await dealInfo(clients, contracts, piece.storageDealId)).stateName !== "Active") continue;
        store.updatePiece(job.dealId, index, { state: "assigned" });
        restored.push(index);
      }
      if (restored.length === 0) continue;
      store.jobs.removeIndices(job.id, restored, "the loss was undone by a chain reorganisation");
      logger.warn(
        { dealId: job.dealId, pieces: restored, job: job.id },
        "loss undone by a reorganisation: piece restored",
      );
    }
  }

  private async scanLogs(): Promise<boolean> {
    const { clients, contracts, store } = this.c;
    const head = await clients.public.getBlockNumber();
    const safe = head - BigInt(this.init.confirmations);
    const cursor = BigInt(store.get(CURSOR_KEY) ?? String(this.init.deployBlock - 1n));
    const range = nextCursorRange(cursor, safe, head, clients.logLimits);
    if (!range) return false;
    if (range.skippedBlocks > 0n) {
      this.c.logger.warn(
        { skippedBlocks: range.skippedBlocks, fromBlock: range.fromBlock },
        "log cursor is older than the lookback: reading on from the oldest block served, deals from views",
      );
      this.syncFromViews = true;
    }
    const { fromBlock: from, toBlock: to } = range;
    const events = await repairMinerEvents(clients, contracts, this.init.minerId, from, to);
    for (const e of events.created) {
      if (!store.deal(e.dealId)) {
        this.orphans.mark(e.dealId, e.droot);
      }
    }
    for (const e of events.lost) {
      const piece = store.piece(e.dealId, e.index);
      if (piece && piece.state === "assigned" && piece.storageDealId === e.storageDealId) {
        this.markLost(piece, e.blockNumber ?? head);
      }
    }
    for (const e of events.fileLost) this.markFileLost(e.dealId, e.clientRefund);
    const sweep = events.storageEventNames.some(
      (name) => name === "FaultRecorded" || name === "DataSetFailed" || name === "DealClosed",
    );
    store.set(CURSOR_KEY, to.toString());
    await this.checkpoints.record(clients, to);
    return sweep;
  }

  private lastSweep = 0;

  /** Reads every assigned piece's storage deal; reports and queues the faulted ones. */
  private async sweep(force: boolean): Promise<void> {
    const { store, clients, contracts } = this.c;
    if (!force && Date.now() - this.lastSweep < this.init.watchIntervalMs) return;
    this.lastSweep = Date.now();
    const head = await clients.public.getBlockNumber();
    for (const deal of store.deals(["placing", "active"])) {
      const chainDeal = await getRepairDeal(clients, contracts, deal.dealId);
      const state = REPAIR_DEAL_STATES[chainDeal.state];
      if (state === "Lost") {
        this.markFileLost(deal.dealId, 0n);
        continue;
      }
      if (chainDeal.endEpoch > deal.endEpoch) {
        // The client extended the deal: placements from now on, and every piece's storage deal,
        // must last until the new end.
        store.setDealEndEpoch(deal.dealId, chainDeal.endEpoch);
        this.c.logger.info(
          { dealId: deal.dealId, oldEndEpoch: deal.endEpoch, newEndEpoch: chainDeal.endEpoch },
          "repair deal extended; extending its storage deals",
        );
      }
      if (state === "Completed" || head >= chainDeal.endEpoch) {
        store.setDealStatus(deal.dealId, "completed");
        continue;
      }
      // The deal is active once the chain says so: every piece's storage deal proven once.
      if (state === "Active" && deal.status === "placing") store.setDealStatus(deal.dealId, "active");
      // Read every piece's storage deal first, then report: losses seen in one sweep are queued
      // together and the repairer woken once, so one download of k pieces rebuilds them all.
      const proven = new Set<number>();
      const assigned = store.pieces(deal.dealId).filter((p) => p.state === "assigned" && p.storageDealId !== undefined);
      const states = await Promise.all(
        assigned.map(async (piece) => {
          const info = await dealInfo(clients, contracts, piece.storageDealId as bigint);
          return { piece, state: info.stateName, storageEndEpoch: info.endEpoch };
        }),
      );
      const lost: number[] = [];
      for (const { piece, state: pieceState, storageEndEpoch } of states) {
        if (pieceState !== "Terminated" && pieceState !== "Expired") {
          await this.renewal.renew(piece, storageEndEpoch, chainDeal.endEpoch);
        }
        if (pieceState === "Active") {
          if (await this.confirmPiece(piece)) proven.add(piece.index);
          continue;
        }
        // A storage deal that ran out inside the repair deal's term (an extension its provider
        // did not take) is a loss like a faulted one.
        if (pieceState !== "Faulted" && pieceState !== "Terminated" && pieceState !== "Expired") continue;
        if (await this.reportLoss(piece, pieceState, head)) lost.push(piece.index);
        if (store.deal(deal.dealId)?.status === "lost") break;
      }
      if (store.deal(deal.dealId)?.status === "lost") continue;
      if (lost.length > 0) {
        // One job for every loss of this sweep (a crash before this line is caught by the safety
        // net below on the next sweep).
        store.jobs.queue(deal.dealId, lost, head);
        this.c.logger.warn({ dealId: deal.dealId, pieces: lost, epoch: head }, "pieces lost; repair queued");
        this.c.wake();
      }
      this.confirmRepairs(deal.dealId, proven, head);
      // Safety net: a lost piece that no queued job covers is queued again, loudly.
      const requeued = store.jobs.queueUncoveredLosses(deal.dealId, head);
      if (requeued.length > 0) {
        this.c.logger.warn(
          { dealId: deal.dealId, pieces: requeued },
          "lost pieces had no repair job working on them; queued",
        );
        this.c.wake();
      }
    }
  }

  /**
   * Confirms on chain a piece whose storage deal reads Active (`confirmPiece`): a placement or a
   * repair counts only from then (decision 25). True once the chain holds the piece confirmed
   * and not lost; false while it could not be confirmed (logged, tried again next sweep).
   */
  private async confirmPiece(piece: PieceRow): Promise<boolean> {
    const { clients, contracts } = this.c;
    const slot = await getPieceSlot(clients, contracts, piece.dealId, piece.index);
    if (slot.storageDealId !== piece.storageDealId) return false;
    if (slot.confirmed && slot.lostAtEpoch === 0n) return true;
    const log = this.c.logger.child({ dealId: piece.dealId, piece: piece.index, provider: piece.provider });
    try {
      const confirmed = await confirmPieceOnChain(clients, contracts, piece.dealId, piece.index);
      log.info(
        { storageDealId: piece.storageDealId, lostAtEpoch: confirmed.lostAtEpoch, hash: confirmed.hash },
        confirmed.lostAtEpoch === 0n ? "piece confirmed on chain (proven)" : "repair confirmed on chain (proven)",
      );
      if (confirmed.activated) {
        this.c.store.setDealStatus(piece.dealId, "active");
        log.info("repair deal active: every piece proven");
      }
      return true;
    } catch (err) {
      if (!(err instanceof ContractRevertedError)) throw err;
      log.warn({ err: err.message.split("\n")[0] }, "confirmPiece reverted; trying again next sweep");
      return false;
    }
  }

  /**
   * A reassigned repair is done once the new storage deal of each piece it rebuilt is confirmed
   * on chain. (Rows a version before confirmation wrote as "done" without `confirmedEpoch` are
   * finished the same way.)
   */
  private confirmRepairs(dealId: bigint, proven: Set<number>, head: bigint): void {
    for (const job of this.c.store.jobs.list(["reassigned", "done"])) {
      if (job.dealId !== dealId || job.confirmedEpoch !== undefined || job.indices.length === 0) continue;
      if (!job.indices.every((i) => proven.has(i))) continue;
      this.c.store.jobs.update(job.id, { status: "done", confirmedEpoch: head, finishedAt: Date.now() });
      this.c.logger.info(
        { dealId, job: job.id, pieces: job.indices, faultEpoch: job.faultEpoch, confirmedEpoch: head },
        "repair done: the new storage deals are proven and confirmed on chain",
      );
    }
  }

  /** Reports one faulted piece's loss on chain and marks it lost; true when it was marked. */
  private async reportLoss(piece: PieceRow, stateName: string, head: bigint): Promise<boolean> {
    const log = this.c.logger.child({ dealId: piece.dealId, piece: piece.index, provider: piece.provider });
    log.warn(
      { storageDealId: piece.storageDealId, state: stateName },
      "storage deal of a piece is faulted, terminated or ran out; reporting the loss",
    );
    const slot = await getPieceSlot(this.c.clients, this.c.contracts, piece.dealId, piece.index);
    if (slot.lostAtEpoch === 0n && slot.storageDealId === piece.storageDealId) {
      try {
        const reported = await reportPieceLoss(this.c.clients, this.c.contracts, piece.dealId, piece.index);
        if (reported.fileLost) {
          this.markLost(piece, head, false);
          this.markFileLost(piece.dealId, reported.refund);
          return true;
        }
      } catch (err) {
        if (!(err instanceof ContractRevertedError)) throw err;
        log.warn({ err: err.message.split("\n")[0] }, "reportPieceLoss reverted; re-reading the slot next sweep");
        return false;
      }
    }
    this.markLost(piece, head, false);
    return true;
  }

  /**
   * Marks a piece lost; with `queue` (losses seen in the log scan) also queues its repair and
   * wakes the repairer. The sweep queues all of its losses at once instead.
   */
  private markLost(piece: PieceRow, epoch: bigint, queue = true): void {
    const { store } = this.c;
    // The provider is skipped for placements for a while, not excluded for good: a live provider
    // that missed one period becomes eligible again once it proves (Placer.choose).
    if (piece.provider) {
      this.c.providers.markFaulted(piece.provider, this.init.unreachableBackoffMs);
    }
    store.db.transaction(() => {
      store.updatePiece(piece.dealId, piece.index, { state: "lost", mode: "reassign", faultEpoch: epoch });
      if (queue) store.jobs.queue(piece.dealId, [piece.index], epoch);
    })();
    this.c.logger.warn(
      { dealId: piece.dealId, piece: piece.index, provider: piece.provider, epoch },
      queue ? "piece lost; repair queued" : "piece lost",
    );
    if (queue) this.c.wake();
  }

  private markFileLost(dealId: bigint, refund: bigint): void {
    const { store } = this.c;
    const deal = store.deal(dealId);
    if (!deal || deal.status === "lost") return;
    store.db.transaction(() => {
      store.setDealStatus(dealId, "lost");
      for (const job of store.jobs.list(["queued", "rebuilt"])) {
        if (job.dealId === dealId)
          store.jobs.update(job.id, {
            status: "lost",
            error: "more than m pieces lost: the file is gone",
            finishedAt: Date.now(),
          });
      }
    })();
    this.c.logger.error({ dealId, refund }, "file lost: more than m pieces gone; the client was refunded on chain");
  }
}
