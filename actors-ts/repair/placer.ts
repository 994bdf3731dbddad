import { rm } from "node:fs/promises";
import type { Address, Hex } from "viem";
import { RepairMarketError } from "../core/errors";
import { PeerRejectedError, PeerUnreachableError } from "../core/http-client";
import { ContractRevertedError } from "../chain/contract-errors";
import { getPieceSlot } from "../chain/repair-market/reads";
import { placePieceOnChain } from "../chain/repair-market/actions";
import { repairSlotLabel } from "../chain/repair-market/slot-label";
import { dealInfo } from "../chain/storage-market/reads";
import { listProviders, type RegisteredProvider } from "../chain/registry/reads";
import { manifestDroot, verifyManifest } from "../manifest/manifest";
import type { RepairComponents, RepairStartup } from "./components";
import type { RepairConfig } from "./config";
import { DealNotPublishedError } from "../client/storage-client";
import type { PieceRow } from "./repair-store";
import { dataSetInfo, dataSetOf } from "../chain/storage-market/reads";
import { isOwnEscrowShortfall, isStaleProposal, placementCandidates } from "./placement-rules";

/** No registered provider can take a piece (all hold a piece of the file, refused or failed). */
export class NoProviderAvailableError extends RepairMarketError {
  override name = "NoProviderAvailableError" as const;
}

/** Longest wait between looks for a provider when none can take a piece, ms. */
const NO_PROVIDER_RETRY_MAX_MS = 10_000;

/**
 * Places pieces with storage providers, one persisted step at a time (issue "Placement"): pick a
 * provider that holds no other piece of the file (ranked by reputation, then price), persist the
 * signed proposal before sending it, take it to a published deal (idempotently), hand the
 * provider the manifest, then `assignPiece` (first placement) or `reassignPiece` (after a repair)
 * on chain with the piece's droot proof. Local copies are deleted once every piece of the deal
 * has been proven once.
 */
export class Placer {
  private readonly running = new Set<string>();

  constructor(
    private readonly c: Pick<RepairComponents, "clients" | "contracts" | "logger" | "providers" | "storage" | "store">,
    private readonly init: Pick<
      RepairConfig,
      "maxAttempts" | "reputation" | "selfPublishAfterMs" | "storageStartDelayEpochs" | "unreachableBackoffMs"
    > &
      Pick<RepairStartup, "provingPeriodEpochs">,
  ) {}

  /** One pass: advances every due piece (in parallel, bounded) and drops proven local copies. */
  async tick(): Promise<void> {
    const due = this.c.store.piecesToPlace().filter((p) => !this.running.has(key(p)));
    let providers: RegisteredProvider[] | undefined;
    const work = due.slice(0, 8).map(async (piece) => {
      this.running.add(key(piece));
      try {
        providers ??= await listProviders(this.c.clients, this.c.contracts);
        await this.advance(piece, providers);
      } catch (err) {
        // The stored row, not the one this pass started from: the step may have chosen a
        // provider (or proposed) before it failed, and the failure is about that provider.
        this.failed(this.c.store.piece(piece.dealId, piece.index) ?? piece, err);
      } finally {
        this.running.delete(key(piece));
      }
    });
    await Promise.all(work);
    await this.dropProvenCopies();
  }

  private async advance(initial: PieceRow, providers: RegisteredProvider[]): Promise<void> {
    const { store, logger } = this.c;
    let piece = initial;
    const deal = store.deal(piece.dealId);
    if (!deal) return;
    const log = logger.child({ dealId: piece.dealId, piece: piece.index });
    if (piece.state === "pending") {
      const provider = piece.provider ?? (await this.choose(piece, providers));
      store.updatePiece(piece.dealId, piece.index, { provider });
      const head = await this.c.clients.public.getBlockNumber();
      const period = this.init.provingPeriodEpochs;
      // Providers ask for two proving periods to store and prove a piece before it starts.
      const startDelay = this.init.storageStartDelayEpochs ?? 2n * period + 5n;
      const start = head + startDelay;
      const duration = deal.endEpoch > start ? deal.endEpoch - start + period : period;
      const signed = await this.c.storage.prepareProposal(
        { root: piece.root, paddedSize: Number(deal.pieceSize), pieceCid: piece.pieceCid },
        provider,
        {
          durationEpochs: duration,
          startDelayEpochs: startDelay,
          label: repairSlotLabel(this.c.contracts.repairMarket, piece.dealId, piece.index),
        },
      );
      store.updatePiece(piece.dealId, piece.index, { state: "proposed", proposal: signed, error: undefined });
      piece = { ...piece, state: "proposed", proposal: signed, provider };
      log.info({ provider, proposalHash: signed.proposalHash }, "storage deal proposed");
    }
    if (piece.state === "proposed" && piece.proposal) {
      if (!piece.localPath) {
        throw new RepairMarketError(`piece ${piece.index} of deal ${piece.dealId} has no local copy to upload`, {
          details: { dealId: piece.dealId, index: piece.index, stage: "upload" },
        });
      }
      // A provider that signed but does not publish is held to the deal: the miner publishes it.
      const published = await this.c.storage.completeProposal(piece.proposal, piece.localPath, {
        selfPublishAfterMs: this.init.selfPublishAfterMs,
      });
      store.updatePiece(piece.dealId, piece.index, { state: "published", storageDealId: published.dealId });
      piece = { ...piece, state: "published", storageDealId: published.dealId };
      log.info({ provider: piece.provider, storageDealId: published.dealId }, "storage deal published");
    }
    if (piece.state === "published" && piece.storageDealId !== undefined && piece.proposal) {
      await this.giveManifest(deal.droot, piece.proposal.proposal.provider);
      const slot = await getPieceSlot(this.c.clients, this.c.contracts, piece.dealId, piece.index);
      let hash: Hex | undefined;
      if (slot.storageDealId !== piece.storageDealId || (piece.mode === "reassign" && slot.lostAtEpoch !== 0n)) {
        const manifest = verifyManifest(store.manifest(deal.droot), deal.droot);
        hash = await placePieceOnChain(this.c.clients, this.c.contracts, piece.mode, {
          dealId: piece.dealId,
          index: piece.index,
          storageDealId: piece.storageDealId,
          proposal: piece.proposal.proposal,
          proof: manifestDroot(manifest).proof(piece.index),
        });
      }
      const epoch = await this.c.clients.public.getBlockNumber();
      store.db.transaction(() => {
        store.updatePiece(piece.dealId, piece.index, {
          state: "assigned",
          attempts: 0,
          error: undefined,
          faultEpoch: undefined,
        });
        if (piece.mode === "reassign") this.finishRepairs(piece.dealId, epoch);
        // The deal turns active when the watcher confirms the last piece (its storage deal proven).
      })();
      log.info(
        { provider: piece.provider, storageDealId: piece.storageDealId, hash, mode: piece.mode },
        piece.mode === "assign" ? "piece assigned on chain" : "piece reassigned on chain (repaired)",
      );
    }
  }

  /**
   * Marks repair jobs of the deal reassigned once all their pieces are placed again; the watcher
   * marks them done when the chain confirms them.
   */
  private finishRepairs(dealId: bigint, epoch: bigint): void {
    const pieces = this.c.store.pieces(dealId);
    for (const job of this.c.store.jobs.list(["rebuilt"])) {
      if (job.dealId !== dealId) continue;
      const placed = job.indices.every((i) => pieces.find((p) => p.index === i)?.state === "assigned");
      this.c.store.jobs.update(
        job.id,
        placed ? { status: "reassigned", reassignedEpoch: epoch } : { reassignedEpoch: epoch },
      );
    }
  }

  /**
   * The best provider for a piece: registered, with a storage ask that fits the piece size, not
   * holding (or being given) another piece of the file, not excluded for this piece, not
   * unreachable or faulted in the last `unreachableBackoffMs`. Ranked by
   * reputation (known scores first), then price; ties broken at random.
   *
   * @throws NoProviderAvailableError
   */
  private async choose(piece: PieceRow, providers: RegisteredProvider[]): Promise<Address> {
    const deal = this.c.store.deal(piece.dealId);
    const size = deal?.pieceSize ?? 0n;
    const taken = new Set(
      this.c.store
        .pieces(piece.dealId)
        .filter((p) => p.index !== piece.index && p.provider)
        .map((p) => (p.provider as Address).toLowerCase()),
    );
    const excluded = new Set(piece.excluded.map((a) => a.toLowerCase()));
    for (const a of this.c.providers.unreachable()) excluded.add(a);
    const faulted = await this.c.providers.faulted(
      (a) => this.provesAgain(a as Address),
      (a) => this.c.logger.info({ provider: a }, "a provider whose deal faulted proves again; eligible for placement"),
    );
    for (const a of faulted) excluded.add(a);
    const manual = this.init.reputation;
    const score = (a: Address) => manual[a] ?? manual[a.toLowerCase()] ?? this.c.providers.fedScore(a);
    const candidates = placementCandidates(
      providers,
      { self: this.c.clients.account.address, taken, excluded, pieceSize: size },
      score,
    );
    if (candidates.length === 0) {
      throw new NoProviderAvailableError(
        `no provider can take piece ${piece.index} of deal ${piece.dealId} (every registered provider holds a piece of the file, refused it, is excluded or was unreachable)`,
        { details: { dealId: piece.dealId, index: piece.index, registered: providers.length } },
      );
    }
    return candidates[0].address;
  }

  /**
   * Whether the provider's data set for this miner (the miner's worker is the client of every
   * placement) is live and has missed no period since its last proof.
   */
  private async provesAgain(provider: Address): Promise<boolean> {
    try {
      const { clients, contracts } = this.c;
      const id = await dataSetOf(clients, contracts, provider, clients.account.address);
      if (id === 0n) return false;
      const set = await dataSetInfo(clients, contracts, id);
      return set.anchorEpoch !== 0n && !set.failed && set.consecutiveFaults === 0 && set.provenPeriods > 0n;
    } catch {
      return false;
    }
  }

  /** Gives the provider the file's manifest (for orphan recovery); failures are only logged. */
  private async giveManifest(droot: Hex, providerAddress: Address): Promise<void> {
    const json = this.c.store.manifest(droot);
    if (!json) return;
    try {
      await this.c.storage.giveManifest(providerAddress, droot, json);
    } catch (err) {
      this.c.logger.warn({ err, provider: providerAddress, droot }, "could not give the manifest to a provider");
    }
  }

  /** Records a failed step: retry with backoff, or drop the provider for this piece. */
  private failed(piece: PieceRow, err: unknown): void {
    const message = (err as Error).message.split("\n")[0];
    const attempts = piece.attempts + 1;
    // The proposal's escrow hold ends here; a retry of the same proposal takes it again.
    if (piece.proposal) this.c.storage.escrow.release(piece.proposal.proposalHash);
    // A proposal that went stale before it was published is proposed again, to the same provider.
    if (isStaleProposal(err) && piece.provider) {
      this.c.logger.warn(
        { dealId: piece.dealId, piece: piece.index, provider: piece.provider },
        "proposal went stale before publication; proposing again",
      );
      this.c.store.updatePiece(piece.dealId, piece.index, {
        state: "pending",
        storageDealId: undefined,
        proposal: undefined,
        attempts,
        nextAttemptAt: Date.now() + 1000,
        error: message,
      });
      return;
    }
    const refused =
      (err instanceof PeerRejectedError &&
        err.statusCode >= 400 &&
        err.statusCode < 500 &&
        err.code !== "UploadInProgress" &&
        err.statusCode !== 429) ||
      err instanceof ContractRevertedError ||
      err instanceof DealNotPublishedError;
    // The miner's own escrow fell short: not a refusal. The *same* proposal is retried (escrow topped
    // up), so a provider that only claims a shortfall gets no second deal; maxAttempts still drops it.
    const ownShortfall = isOwnEscrowShortfall(err);
    // An unreachable provider is skipped for new placements for a while, and this piece moves on
    // after a few quick tries: a dead provider must not hold a repair up for minutes.
    const unreachable = err instanceof PeerUnreachableError && piece.provider !== undefined;
    if (unreachable && piece.provider) this.c.providers.markUnreachable(piece.provider, this.init.unreachableBackoffMs);
    // Nothing listens at its endpoint (connection refused): the provider is down, not slow, and
    // a retry would only wait; move on at once.
    const down = unreachable && err.details.code === "ECONNREFUSED";
    const giveUp =
      (refused && !ownShortfall) ||
      down ||
      attempts >= this.init.maxAttempts ||
      (unreachable && attempts >= Math.min(3, this.init.maxAttempts)) ||
      err instanceof NoProviderAvailableError;
    const log = this.c.logger.child({ dealId: piece.dealId, piece: piece.index, provider: piece.provider });
    if (giveUp && piece.provider && !(err instanceof NoProviderAvailableError)) {
      log.warn({ err: message, attempts }, "placement with this provider failed; trying another provider");
      this.c.store.updatePiece(piece.dealId, piece.index, {
        state: "pending",
        provider: undefined,
        storageDealId: undefined,
        proposal: undefined,
        excluded: [...piece.excluded, piece.provider],
        attempts: 0,
        nextAttemptAt: Date.now() + 1000,
        error: `${piece.provider}: ${message}`,
      });
      return;
    }
    // Every candidate refused this piece once: the refusals may have passed (capacity freed, a
    // restart), so they are all asked again — once per unreachableBackoffMs, not in a loop —
    // instead of waiting for ever.
    const retryExcluded = err instanceof NoProviderAvailableError && piece.excluded.length > 0;
    // Waiting for a provider to register is checked every few seconds, not backed off to a minute:
    // the piece should move as soon as one appears.
    const delay = retryExcluded
      ? this.init.unreachableBackoffMs
      : err instanceof NoProviderAvailableError
        ? Math.min(2000 * attempts, NO_PROVIDER_RETRY_MAX_MS)
        : Math.min(1000 * 2 ** Math.min(attempts, 6), 60_000);
    log.warn({ err: message, attempts, retryInMs: delay, retryExcluded }, "placement step failed; will retry");
    this.c.store.updatePiece(piece.dealId, piece.index, {
      ...(retryExcluded ? { excluded: [] } : {}),
      attempts,
      nextAttemptAt: Date.now() + delay,
      error: message,
    });
  }

  /** Deletes a deal's local piece copies once every piece's storage deal has been proven once. */
  private async dropProvenCopies(): Promise<void> {
    for (const deal of this.c.store.deals(["placing", "active"])) {
      const pieces = this.c.store.pieces(deal.dealId);
      if (!pieces.some((p) => p.localPath) || pieces.some((p) => p.state !== "assigned" || !p.storageDealId)) continue;
      const states = await Promise.all(
        pieces.map((p) =>
          dealInfo(this.c.clients, this.c.contracts, p.storageDealId as bigint).then((i) => i.stateName),
        ),
      );
      if (!states.every((s) => s === "Active")) continue; // proven at least once
      for (const p of pieces) {
        if (!p.localPath) continue;
        await rm(p.localPath, { force: true });
        this.c.store.updatePiece(deal.dealId, p.index, { localPath: undefined });
      }
      this.c.logger.info({ dealId: deal.dealId }, "every piece proven once; local copies deleted");
    }
  }
}

function key(p: PieceRow): string {
  return `${p.dealId}:${p.index}`;
}
