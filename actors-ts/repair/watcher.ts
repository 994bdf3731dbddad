import type { Address, Hex } from "viem";
import { advanceCheckpoint } from "../chain/checkpoint";
import { ContractRevertedError } from "../chain/contract-errors";
import { repairMinerEvents } from "../chain/repair-market/events";
import { confirmPieceOnChain, reportPieceLoss } from "../chain/repair-market/actions";
import { REPAIR_DEAL_STATES, getPieceSlot, getRepairDeal, repairDealPieces } from "../chain/repair-market/reads";
import { dealInfo } from "../chain/storage-market/reads";
import { getProvider, listProviders, type RegisteredProvider } from "../chain/registry/reads";
import { orphanRequestOrder } from "./source-order";
import { ManifestInvalidError, verifyManifest, type Manifest } from "../manifest/manifest";
import type { RepairComponents, RepairStartup } from "./components";
import type { RepairConfig } from "./config";
import type { PieceRow } from "./repair-store";
import { getManifestJson } from "../protocol/provider-client";
import { StorageRenewal } from "./storage-renewal";

const CURSOR_KEY = "watcher.cursor";
const ORPHAN_PREFIX = "orphan:";
/** Most blocks asked for in one getLogs call. */
const LOG_RANGE = 2_000n;

/**
 * Follows the chain for the miner's deals (issue "Detection and the repair queue"):
 *
 * - a log scan from a persisted block cursor, `confirmations` blocks behind the head (re-org
 *   tolerant, restart-safe), over RepairMarket's RepairDealCreated (ours: unknown ones are
 *   orphans), PieceLost and FileLost, and StorageMarket's FaultRecorded, ProofSetFailed and
 *   DealClosed (which trigger an immediate health sweep);
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

  constructor(
    private readonly c: Pick<
      RepairComponents,
      "clients" | "contracts" | "logger" | "providers" | "storage" | "store" | "wake"
    >,
    private readonly init: Pick<RepairConfig, "confirmations" | "unreachableBackoffMs" | "watchIntervalMs"> &
      Pick<RepairStartup, "deployBlock" | "minerId" | "provingPeriodEpochs">,
  ) {
    this.renewal = new StorageRenewal(c, init);
  }

  /** One pass: scan logs, recover orphans, sweep health, follow deal ends. */
  async tick(): Promise<void> {
    await advanceCheckpoint(this.c.clients, this.c.store);
    const sweepNow = await this.scanLogs();
    await this.recoverOrphans();
    await this.sweep(sweepNow);
  }

  private async scanLogs(): Promise<boolean> {
    const { clients, contracts, store } = this.c;
    const head = await clients.public.getBlockNumber();
    const safe = head - BigInt(this.init.confirmations);
    const cursor = BigInt(store.get(CURSOR_KEY) ?? String(this.init.deployBlock - 1n));
    if (safe <= cursor) return false;
    const to = safe - cursor > LOG_RANGE ? cursor + LOG_RANGE : safe;
    const from = cursor + 1n;
    const events = await repairMinerEvents(clients, contracts, this.init.minerId, from, to);
    for (const e of events.created) {
      if (!store.deal(e.dealId)) {
        store.set(ORPHAN_PREFIX + e.dealId.toString(), e.droot);
        this.c.logger.warn({ dealId: e.dealId, droot: e.droot }, "repair deal on chain without local state (orphan)");
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

  /** Rebuilds local state for deals on chain the miner has no record of. */
  private async recoverOrphans(): Promise<void> {
    const { store } = this.c;
    const rows = store.db.prepare("SELECT key, value FROM kv WHERE key LIKE ?").all(`${ORPHAN_PREFIX}%`) as {
      key: string;
      value: string;
    }[];
    for (const row of rows) {
      const dealId = BigInt(row.key.slice(ORPHAN_PREFIX.length));
      try {
        await this.recoverOrphan(dealId, row.value as Hex);
        store.db.prepare("DELETE FROM kv WHERE key = ?").run(row.key);
      } catch (err) {
        this.c.logger.warn({ err, dealId }, "orphan recovery failed; will retry");
      }
    }
  }

  private async recoverOrphan(dealId: bigint, droot: Hex): Promise<void> {
    const { store, clients, contracts } = this.c;
    if (store.deal(dealId)) return;
    const chainDeal = await getRepairDeal(clients, contracts, dealId);
    const state = REPAIR_DEAL_STATES[chainDeal.state];
    if (state !== "Placing" && state !== "Active") return;
    const slots = await repairDealPieces(clients, contracts, dealId);
    const manifest = await this.fetchManifest(
      droot,
      slots.pieces.map((p) => p.provider),
    );
    const head = await clients.public.getBlockNumber();
    const bySlot = new Map(slots.pieces.map((p) => [p.index, p]));
    const inserted = store.db.transaction(() => {
      store.putManifest(droot, JSON.stringify(manifest));
      const ok = store.insertDeal(
        {
          dealId,
          droot,
          client: chainDeal.client,
          k: manifest.k,
          m: manifest.m,
          pieceSize: chainDeal.codingParams.pieceSize,
          endEpoch: chainDeal.endEpoch,
          status: state === "Active" ? "active" : "placing",
        },
        manifest.pieces.map((p, index) => {
          const slot = bySlot.get(index);
          return {
            dealId,
            index,
            pieceCid: p.pieceCid,
            root: p.root,
            payloadSize: p.payloadSize,
            state: slot && !slot.lost ? ("assigned" as const) : ("lost" as const),
            mode: slot ? ("reassign" as const) : ("assign" as const),
            provider: slot?.provider,
            storageDealId: slot?.storageDealId,
            faultEpoch: slot && !slot.lost ? undefined : head,
          };
        }),
      );
      const missing = manifest.pieces.map((_, i) => i).filter((i) => !bySlot.get(i) || bySlot.get(i)?.lost);
      if (ok && missing.length > 0) store.jobs.queue(dealId, missing, head);
      return ok;
    })();
    if (inserted) {
      this.c.logger.info(
        { dealId, droot, pieces: manifest.pieces.length },
        "orphan recovered: manifest fetched and verified against droot",
      );
      this.c.wake();
    }
  }

  /**
   * The manifest by droot: from the file's on-chain holders first, then from other registered
   * providers drawn by collateral with a floor ({@link orphanRequestOrder}).
   */
  private async fetchManifest(droot: Hex, holders: Address[]): Promise<Manifest> {
    const local = this.c.store.manifest(droot);
    if (local) return verifyManifest(local, droot);
    const { clients, contracts } = this.c;
    const onChain = (await Promise.all(holders.map((a) => getProvider(clients, contracts, a)))).filter(
      (p): p is RegisteredProvider => p !== undefined,
    );
    const candidates = orphanRequestOrder(onChain, await listProviders(clients, contracts));
    const failures: string[] = [];
    for (const provider of candidates) {
      try {
        return verifyManifest(await getManifestJson(provider, droot), droot);
      } catch (err) {
        failures.push(`${provider.address}: ${(err as Error).message.split("\n")[0]}`);
      }
    }
    throw new ManifestInvalidError(
      `no provider served a manifest hashing to ${droot} (${failures.join("; ") || "no providers"})`,
      { details: { droot, providersAsked: failures.length, stage: "fetch manifest" } },
    );
  }
}
