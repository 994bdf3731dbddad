import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { toHex, type Hex } from "viem";
import { HttpError } from "../core/http-errors";
import { ContractRevertedError } from "../chain/contract-errors";
import { getBid, getRepairDeal, repairDealOfBid } from "../chain/repair-market/reads";
import { repairDealCreationTx } from "../chain/repair-market/events";
import { addDeal } from "../chain/repair-market/actions";
import { rebuildPieces } from "../manifest/decode";
import { encodedPayloadBytes, verifyManifest, type Manifest } from "../manifest/manifest";
import { pieceKey, treeKey } from "../piece/piece-intake";
import type { RepairComponents } from "./components";
import type { RepairConfig } from "./config";
import type { PledgeKeeper } from "./pledge-keeper";

const BID_TAKEN = 2;

/**
 * Turns a fully uploaded repair proposal into a repair deal (seed 000: "the miner recomputes
 * everything from the bytes and only then signs"): every piece's CommP was checked on upload
 * and the manifest against the bid's droot; here the parity pieces are re-derived from the data
 * pieces and must match their commitments too, so a client cannot hand the miner a file it could
 * never repair. Then `addDeal` — made idempotent by reading the bid's state first, so a restart
 * after a crash finds the deal instead of sending a second transaction — once the pledge covers
 * the deal ({@link PledgeKeeper.coverAndRun}: topped up here, at the commit, never at the proposal).
 */
export class Intake {
  private readonly inFlight = new Map<string, Promise<{ dealId: bigint; txHash?: Hex }>>();

  constructor(
    private readonly c: Pick<
      RepairComponents,
      "blobs" | "clients" | "contracts" | "logger" | "pool" | "store" | "wake"
    >,
    private readonly init: Pick<RepairConfig, "dataDir"> & {
      /** The miner's id, known once the daemon found or created it. */
      minerId: () => bigint;
      /** Covers each deal's pledge (topping up within the owner's cap) and serialises the addDeals. */
      pledge: PledgeKeeper;
    },
  ) {}

  /**
   * Commits intake `id` (concurrent calls share one attempt).
   *
   * @throws HttpError 409 (pieces missing, rejected earlier, InsufficientPledge: the pledge does not
   * cover the deal and may not be topped up; the intake stays committing and a later commit tries
   * again), 422 (parity inconsistent, addDeal reverted, with the contract error).
   */
  commit(id: string): Promise<{ dealId: bigint; txHash?: Hex }> {
    let running = this.inFlight.get(id);
    if (!running) {
      running = this.doCommit(id).finally(() => this.inFlight.delete(id));
      this.inFlight.set(id, running);
    }
    return running;
  }

  /** Finishes commits a crash interrupted. */
  async resume(): Promise<void> {
    for (const row of this.c.store.intakesWithStatus("committing")) {
      try {
        await this.commit(row.id);
      } catch (err) {
        this.c.logger.error({ err, intakeId: row.id }, "could not finish an interrupted repair-deal commit");
      }
    }
  }

  private async doCommit(id: string): Promise<{ dealId: bigint; txHash?: Hex }> {
    const { store, logger } = this.c;
    const row = store.intake(id);
    if (!row) throw new HttpError(404, "ProposalNotFound", "no such repair proposal", { id });
    if (row.status === "committed" && row.dealId !== undefined) {
      return { dealId: row.dealId, txHash: row.txHash };
    }
    if (row.status === "rejected") {
      throw new HttpError(409, "ProposalRejected", `repair proposal was rejected: ${row.error}`, { id });
    }
    const manifest = verifyManifest(store.manifest(row.droot), row.droot);
    if (row.status === "receiving") {
      const missing = manifest.pieces
        .map((p, i) => (this.c.blobs.has(pieceKey(p.root)) ? -1 : i))
        .filter((i) => i >= 0);
      if (missing.length > 0) {
        throw new HttpError(409, "MissingPieces", "pieces are still missing", { id, missing: missing.join(",") });
      }
      await this.checkParity(id, manifest);
      store.setIntakeStatus(id, "committing");
    }
    // A deal made before a crash is found, not paid for twice.
    const { dealId, txHash } =
      (await this.dealOfBid(row.bidId)) ??
      (await this.init.pledge.coverAndRun(encodedPayloadBytes(manifest), () => this.addDeal(id, row)));
    const chainDeal = await getRepairDeal(this.c.clients, this.c.contracts, dealId);
    store.db.transaction(() => {
      store.insertDeal(
        {
          dealId,
          droot: row.droot,
          client: row.client,
          k: manifest.k,
          m: manifest.m,
          pieceSize: BigInt(manifest.pieces[0].paddedSize),
          endEpoch: chainDeal.endEpoch,
          status: "placing",
        },
        manifest.pieces.map((p, index) => ({
          dealId,
          index,
          pieceCid: p.pieceCid,
          root: p.root,
          payloadSize: p.payloadSize,
          state: "pending" as const,
          mode: "assign" as const,
          localPath: this.c.blobs.path(pieceKey(p.root)),
        })),
      );
      store.setIntakeStatus(id, "committed", { dealId, txHash });
    })();
    logger.info({ intakeId: id, dealId, txHash, droot: row.droot }, "repair deal made; placing pieces");
    this.c.wake();
    return { dealId, txHash };
  }

  /**
   * `addDeal` for intake `id`; a revert rejects the intake.
   *
   * @throws HttpError 422 AddDealReverted (with the contract error).
   */
  private async addDeal(
    id: string,
    row: { askId: bigint; bidId: bigint; deadline: bigint; clientSignature: Hex },
  ): Promise<{ dealId: bigint; txHash?: Hex }> {
    try {
      const { dealId, hash } = await addDeal(this.c.clients, this.c.contracts, row);
      return { dealId, txHash: hash };
    } catch (err) {
      if (err instanceof ContractRevertedError) {
        this.c.store.setIntakeStatus(id, "rejected", { error: err.message.split("\n")[0] });
        throw new HttpError(422, "AddDealReverted", err.message.split("\n")[0], { id, bidId: row.bidId.toString() });
      }
      throw err;
    }
  }

  /** The deal already made for `bidId`, found from the chain (after a crash mid-commit). */
  private async dealOfBid(bidId: bigint): Promise<{ dealId: bigint; txHash?: Hex } | undefined> {
    const bid = await getBid(this.c.clients, this.c.contracts, bidId);
    if (bid.state !== BID_TAKEN) return undefined;
    const dealId = await repairDealOfBid(this.c.clients, this.c.contracts, bidId, this.init.minerId());
    if (dealId === undefined) {
      throw new HttpError(409, "BidTakenElsewhere", "the bid was taken by another deal", { bidId: bidId.toString() });
    }
    const deal = await getRepairDeal(this.c.clients, this.c.contracts, dealId);
    return { dealId, txHash: await repairDealCreationTx(this.c.clients, this.c.contracts, dealId, deal.startEpoch) };
  }

  /** Re-derives the parity pieces from the data pieces and compares their commitments. */
  private async checkParity(id: string, manifest: Manifest): Promise<void> {
    const dir = join(this.init.dataDir, "work", `intake-${id}`);
    await mkdir(dir, { recursive: true });
    try {
      const paths = manifest.pieces.map((p, i) => (i < manifest.k ? this.c.blobs.path(pieceKey(p.root)) : undefined));
      const parity = manifest.pieces.map((_, i) => i).filter((i) => i >= manifest.k);
      const rebuilt = await rebuildPieces(manifest, paths, parity, dir, this.c.pool);
      for (const [index, { digest }] of rebuilt) {
        if (toHex(digest.root) !== manifest.pieces[index].root.toLowerCase()) {
          this.c.store.setIntakeStatus(id, "rejected", {
            error: `parity piece ${index} is not the encoding of the data pieces`,
          });
          const removed = this.discardPieces(id, manifest);
          this.c.logger.warn(
            { intakeId: id, index, removed },
            "parity does not re-derive: intake rejected, pieces deleted",
          );
          throw new HttpError(422, "ParityMismatch", "a parity piece is not the encoding of the data pieces", {
            id,
            index,
            expected: manifest.pieces[index].root,
            actual: toHex(digest.root),
          });
        }
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /**
   * Deletes the uploaded pieces (and their chunk-root files) of rejected intake `id` that no other
   * open intake or deal of this miner lists, so a refused file leaves nothing on disk.
   *
   * @returns How many pieces were deleted.
   */
  private discardPieces(id: string, manifest: Manifest): number {
    const { store, blobs } = this.c;
    const kept = new Set<string>();
    const keep = (droot: Hex) => {
      const json = store.manifest(droot);
      if (json) for (const p of verifyManifest(json, droot).pieces) kept.add(p.root.toLowerCase());
    };
    for (const status of ["receiving", "committing", "committed"] as const) {
      for (const row of store.intakesWithStatus(status)) if (row.id !== id) keep(row.droot);
    }
    for (const deal of store.deals()) keep(deal.droot);
    let removed = 0;
    for (const piece of manifest.pieces) {
      if (kept.has(piece.root.toLowerCase()) || !blobs.has(pieceKey(piece.root))) continue;
      blobs.remove(pieceKey(piece.root));
      blobs.remove(treeKey(piece.root));
      removed++;
    }
    return removed;
  }
}
