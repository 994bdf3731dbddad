import { EventEmitter, once } from "node:events";
import type { Hex } from "viem";
import { RepairMarketError } from "../core/errors";
import { findPublishedDeal } from "../chain/storage-market/events";
import { addBalance } from "../chain/storage-market/add-balance";
import { escrowBalance } from "../chain/storage-market/reads";
import { publishStorageDeals } from "../chain/storage-market/publish-storage-deals";
import type { ProviderComponents, ProviderInit } from "./components";
import type { ProposalRow } from "./provider-store";
import { pieceKey, treeKey } from "../piece/piece-intake";

/** A proposal could not be published; `reason` is the contract's PublishResult or the error. */
export class PublishFailedError extends RepairMarketError {
  override name = "PublishFailedError" as const;
}

/** Outcome a waiting upload receives. */
export type PublishOutcome = { ok: true; dealId: bigint; txHash: Hex } | { ok: false; reason: string };

/**
 * Publishes stored proposals in batches (seed 001 step 3/9): every `publishIntervalMs`, or as
 * soon as a batch is full, it tops up the provider's collateral if needed, sends one
 * `publishStorageDeals`, records each deal's place in the proof set and wakes the uploads
 * waiting for their deal id. A proposal whose nonce is already used (a publish that landed
 * before a crash, or the client publishing the deal with this provider's acceptance) is matched
 * to its on-chain deal instead of failing, and proven from then on.
 */
export class Publisher {
  private readonly events = new EventEmitter();
  /** Rounds run one at a time, whoever starts them. */
  private round: Promise<void> = Promise.resolve();
  private nudgeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly c: Pick<
      ProviderComponents,
      "blobs" | "clients" | "contracts" | "logger" | "loops" | "metrics" | "store"
    >,
    private readonly init: Pick<ProviderInit, "autoDeposit" | "faults" | "publishBatchSize" | "publishIntervalMs">,
  ) {
    this.events.setMaxListeners(0);
  }

  /** Runs until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    await this.c.loops.run(
      "publisher",
      this.init.publishIntervalMs,
      signal,
      () => this.publishOnce(),
      (err) => this.c.logger.warn({ err }, "publish round failed; retrying"),
    );
  }

  /** Asks for a round in 200 ms (uploads arriving together share one transaction). */
  nudge(): void {
    if (this.nudgeTimer) return;
    this.nudgeTimer = setTimeout(() => {
      this.nudgeTimer = undefined;
      this.publishOnce().catch((err) => this.c.logger.warn({ err }, "publish round failed; retrying"));
    }, 200);
  }

  /** Stops a pending nudge. */
  stop(): void {
    if (this.nudgeTimer) clearTimeout(this.nudgeTimer);
    this.nudgeTimer = undefined;
  }

  /** Resolves when `proposalHash` is published or fails, or after `timeoutMs`. */
  async waitFor(proposalHash: Hex, timeoutMs: number): Promise<PublishOutcome> {
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const [outcome] = (await once(this.events, proposalHash.toLowerCase(), { signal })) as [PublishOutcome];
      return outcome;
    } catch {
      return { ok: false, reason: "PublishTimeout" };
    }
  }

  /** One round: publishes up to a batch of stored proposals (serialised with other rounds). */
  publishOnce(): Promise<void> {
    const next = this.round.then(() => this.publishBatch());
    this.round = next.catch(() => undefined);
    return next;
  }

  private async publishBatch(): Promise<void> {
    const { store, logger } = this.c;
    if (this.init.faults.neverPublish) return;
    const batch = store.proposalsWithStatus("stored", this.init.publishBatchSize);
    if (batch.length === 0) return;
    await this.ensureCollateral(batch);
    const { hash, results } = await publishStorageDeals(
      this.c.clients,
      this.c.contracts,
      batch.map((p) => ({ proposal: p.proposal, clientSignature: p.clientSignature })),
    );
    for (const [i, result] of results.entries()) {
      const row = batch[i];
      if (result.published) {
        this.recordDeal(row, result.dealId, result.dataSetId, result.pieceIndex, hash);
      } else if (result.reason === "NonceUsed" && (await this.reconcile(row))) {
        continue;
      } else {
        store.setProposalStatus(row.proposalHash, "failed", { reason: result.reason });
        this.releasePieceIfUnused(row.root);
        logger.warn({ proposal: row.proposalHash, reason: result.reason }, "proposal skipped by the market");
        this.events.emit(row.proposalHash, { ok: false, reason: result.reason } satisfies PublishOutcome);
      }
    }
  }

  private recordDeal(row: ProposalRow, dealId: bigint, dataSetId: bigint, pieceIndex: bigint, txHash: Hex): void {
    const { store, logger, metrics } = this.c;
    store.db.transaction(() => {
      store.insertDeal({
        dealId,
        proposalHash: row.proposalHash,
        root: row.root,
        dataSetId,
        pieceIndex,
        log2Leaves: Math.log2(row.paddedSize / 32),
        startEpoch: row.proposal.startEpoch,
        endEpoch: row.proposal.endEpoch,
      });
      store.setProposalStatus(row.proposalHash, "published", { dealId, txHash });
    })();
    metrics.dealsPublished.inc();
    logger.info({ dealId: dealId.toString(), proposal: row.proposalHash, txHash }, "deal published");
    this.events.emit(row.proposalHash, { ok: true, dealId, txHash } satisfies PublishOutcome);
  }

  /**
   * Finds the deal of a proposal whose nonce the chain already consumed: a publish that landed
   * before a crash, or the client publishing it with this provider's acceptance.
   */
  private async reconcile(row: ProposalRow): Promise<boolean> {
    const found = await findPublishedDeal(this.c.clients, this.c.contracts, {
      client: row.proposal.client,
      provider: this.c.clients.account.address,
      nonce: row.proposal.nonce,
      pieceCid: row.root,
      startEpoch: row.proposal.startEpoch,
    });
    if (!found) return false;
    this.recordDeal(row, found.dealId, found.dataSetId, found.pieceIndex, found.txHash);
    return true;
  }

  private async ensureCollateral(batch: ProposalRow[]): Promise<void> {
    const needed = batch.reduce((sum, p) => sum + p.proposal.providerCollateral, 0n);
    if (needed === 0n) return;
    const { free } = await escrowBalance(this.c.clients, this.c.contracts, this.c.clients.account.address);
    if (free >= needed || !this.init.autoDeposit) return;
    this.c.logger.info({ deposit: (needed - free).toString() }, "depositing collateral");
    await addBalance(this.c.clients, this.c.contracts, this.c.clients.account.address, needed - free);
  }

  /** Deletes a piece's blobs when no proposal or open deal needs them any more. */
  releasePieceIfUnused(root: Hex): void {
    const { store, blobs } = this.c;
    const inUse = store.db
      .prepare(
        `SELECT 1 FROM proposals WHERE root = ? AND status IN ('accepted', 'stored')
         UNION SELECT 1 FROM deals WHERE root = ? AND status = 'open' LIMIT 1`,
      )
      .get(root.toLowerCase(), root.toLowerCase());
    if (inUse) return;
    blobs.remove(pieceKey(root));
    blobs.remove(treeKey(root));
    store.deletePiece(root);
  }
}
