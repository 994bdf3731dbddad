import { hashStruct, toHex, type Hex } from "viem";
import { RepairMarketError } from "../core/errors";
import { DRAWS_PER_CHALLENGE } from "../chain/constants";
import { STORAGE_DEAL_PROPOSAL_TYPES, type StorageDealProposal } from "../chain/eip712";
import { challengedPiece, dataSetInfo } from "../chain/storage-market/reads";
import { provePossession, type PieceProofInput } from "../chain/storage-market/prove-possession";
import { PieceTreeCache, proveLeaf, rootFromProof } from "../piece/piece-proof";
import { CHUNK_LOG2_LEAVES } from "../piece/constants";
import { pieceGeometry } from "../piece/commp";
import type { ProviderComponents, ProviderInit } from "./components";
import type { DealRow } from "./provider-store";
import { pieceKey, treeKey } from "../piece/piece-intake";

/** A challenged leaf could not be proven from local data (the piece is missing or corrupt). */
export class ProofUnavailableError extends RepairMarketError {
  override name = "ProofUnavailableError" as const;
}

/** EIP-712 struct hash of a proposal (StorageMarket's `termsHash`), computed locally. */
export function proposalTermsHash(proposal: StorageDealProposal): Hex {
  return hashStruct({ data: proposal, primaryType: "StorageDealProposal", types: STORAGE_DEAL_PROPOSAL_TYPES });
}

/**
 * Proves possession every proving period (PDP-style, DESIGN.md "Proofs of possession"), one
 * `provePossession` per data set (one per client, decisions 23): once a set's challenge epoch has
 * passed it asks the market which deal and leaf each draw picked, rebuilds that leaf's path from
 * the piece on disk — one 2^15-leaf chunk re-read, the levels above from the cached chunk roots —
 * checks it locally and submits before the deadline. The data sets to prove are those of the
 * open deals in the provider's database; all other state lives on chain, so restarts need nothing.
 */
export class Prover {
  private readonly failedSets = new Set<bigint>();
  private readonly lastState = new Map<bigint, string>();
  /** Last period a missed-period warning was logged for, per data set. */
  private readonly warnedMissed = new Map<bigint, number>();

  constructor(
    private readonly c: Pick<
      ProviderComponents,
      "blobs" | "clients" | "contracts" | "logger" | "loops" | "metrics" | "store"
    >,
    private readonly init: Pick<ProviderInit, "challengesPerProof" | "proveIntervalMs">,
  ) {}

  /** What the current tick is waiting on (for the slow-tick warning). */
  private step = "idle";
  /** The last failed round's error, for the warning when a period goes unproven. */
  private lastRoundError: string | undefined;

  /** Logs (debug) why a tick did or did not prove a set, once per change. */
  private note(dataSetId: bigint, state: string, fields: Record<string, unknown>): undefined {
    if (this.lastState.get(dataSetId) === state) return undefined;
    this.lastState.set(dataSetId, state);
    this.c.logger.debug({ dataSetId: dataSetId.toString(), ...fields }, `prover: ${state}`);
    return undefined;
  }

  async run(signal: AbortSignal): Promise<void> {
    await this.c.loops.run(
      "prover",
      this.init.proveIntervalMs,
      signal,
      () => this.watched(),
      (err) => {
        this.lastRoundError = (err as Error).message.split("\n")[0];
        this.c.logger.warn({ err }, "proving round failed; retrying");
      },
    );
  }

  /** One tick, with a warning every 5 s while it runs naming the step it is stuck in. */
  private async watched(): Promise<number[]> {
    const started = Date.now();
    const timer = setInterval(() => {
      this.c.logger.warn({ step: this.step, ms: Date.now() - started }, "proving round is slow");
    }, 5000);
    try {
      return await this.tick();
    } finally {
      clearInterval(timer);
      this.step = "idle";
    }
  }

  /** The data sets of the provider's open deals, each with its deals. */
  private openDataSets(): Map<bigint, DealRow[]> {
    const sets = new Map<bigint, DealRow[]>();
    for (const deal of this.c.store.openDeals()) {
      const list = sets.get(deal.dataSetId) ?? [];
      list.push(deal);
      sets.set(deal.dataSetId, list);
    }
    return sets;
  }

  /**
   * Proves every data set whose period is due, side by side (each is its own transaction);
   * returns the periods proven. A failure of one set does not stop the others; the first error
   * is rethrown after all have run, so the round is retried.
   */
  async tick(): Promise<number[]> {
    const sets = [...this.openDataSets().entries()].filter(([id]) => !this.failedSets.has(id));
    const outcomes = await Promise.allSettled(sets.map(([id, deals]) => this.proveSet(id, deals)));
    const proven = outcomes.flatMap((o) => (o.status === "fulfilled" && o.value !== undefined ? [o.value] : []));
    const failure = outcomes.find((o): o is PromiseRejectedResult => o.status === "rejected");
    if (failure) throw failure.reason;
    if (outcomes.length > 0) this.lastRoundError = undefined;
    return proven;
  }

  /** Proves the current period of one data set if it is due; returns the period proven. */
  private async proveSet(dataSetId: bigint, deals: DealRow[]): Promise<number | undefined> {
    const { clients, contracts, logger, metrics } = this.c;
    this.step = "dataSetInfo";
    const set = await dataSetInfo(clients, contracts, dataSetId);
    const at = { period: set.currentPeriod, challengeEpoch: set.challengeEpoch, deadlineEpoch: set.deadlineEpoch };
    if (set.anchorEpoch === 0n || set.liveLeaves === 0n) return this.note(dataSetId, "no live pieces", at);
    if (set.consecutiveFaults > 0 && set.currentPeriod - 1 > (this.warnedMissed.get(dataSetId) ?? -1)) {
      // Say why a period was missed, once: the operator's first question after a fault.
      this.warnedMissed.set(dataSetId, set.currentPeriod - 1);
      logger.warn(
        {
          dataSetId: dataSetId.toString(),
          client: set.client,
          period: set.currentPeriod - 1,
          consecutiveFaults: set.consecutiveFaults,
          lastError: this.lastRoundError ?? "no proving round reached its window before the deadline",
        },
        "a proving period went unproven",
      );
    }
    if (set.currentPeriodProven) return this.note(dataSetId, `period ${set.currentPeriod} proven`, at);
    if (set.failed) {
      logger.error(
        { dataSetId: dataSetId.toString(), client: set.client },
        "data set failed: missed too many periods in a row",
      );
      this.failedSets.add(dataSetId);
      return undefined;
    }
    this.step = "getBlockNumber";
    const latest = await clients.public.getBlockNumber();
    if (latest <= set.challengeEpoch)
      return this.note(dataSetId, `period ${set.currentPeriod}: waiting for the challenge`, at);
    if (latest >= set.deadlineEpoch)
      return this.note(dataSetId, `period ${set.currentPeriod}: deadline passed`, { ...at, latest });
    this.note(dataSetId, `period ${set.currentPeriod}: proving`, { ...at, latest });
    const started = performance.now();
    let proofs: PieceProofInput[];
    try {
      this.step = "buildProofs";
      proofs = await this.buildProofs(dataSetId, deals);
    } catch (err) {
      metrics.proofs.inc({ result: "unavailable" });
      throw err;
    }
    this.step = "provePossession";
    const result = await provePossession(clients, contracts, dataSetId, proofs);
    metrics.proofs.inc({ result: "proven" });
    metrics.proveSeconds.observe((performance.now() - started) / 1000);
    logger.info(
      {
        dataSetId: dataSetId.toString(),
        period: result.period,
        verified: result.verified,
        txHash: result.hash,
        ms: Math.round(performance.now() - started),
        // Epochs to spare before the deadline: how close this round came to a missed period.
        marginEpochs: Number(set.deadlineEpoch - result.blockNumber),
      },
      "possession proven",
    );
    return result.period;
  }

  /**
   * Answers the draws in order until `challengesPerProof` of them proved a live leaf. The reads
   * for a batch of draws run side by side (one round trip, not one per draw): a round must fit
   * in the proof window on a loaded machine and a slow endpoint. A draw in a deal that closed
   * during the window is answered from the piece while it is still held, else left empty.
   */
  private async buildProofs(dataSetId: bigint, deals: DealRow[]): Promise<PieceProofInput[]> {
    const { clients, contracts } = this.c;
    const byId = new Map(deals.map((d) => [d.dealId, d]));
    const required = this.init.challengesPerProof;
    const maxDraws = required * DRAWS_PER_CHALLENGE;
    const proofs: PieceProofInput[] = [];
    let verified = 0;
    let draw = 0;
    while (draw < maxDraws && verified < required) {
      // Enough draws to finish if none lands in a closed deal.
      const batch = Array.from({ length: Math.min(required - verified, maxDraws - draw) }, (_, i) => draw + i);
      const drawn = await Promise.all(batch.map((d) => challengedPiece(clients, contracts, dataSetId, BigInt(d))));
      for (const pick of drawn) {
        draw++;
        const deal = byId.get(pick.dealId) ?? this.c.store.deal(pick.dealId);
        if (pick.closed && (!deal || !this.holds(deal))) {
          proofs.push({ termsHash: zero, leaf: zero, siblings: [] });
          continue;
        }
        if (!deal) {
          throw new ProofUnavailableError("challenged deal is not in this provider's database", {
            details: { dataSetId: dataSetId.toString(), dealId: pick.dealId.toString() },
          });
        }
        proofs.push(await this.proveDealLeaf(deal, pick.leafOffset));
        verified++;
      }
    }
    return proofs;
  }

  /** Whether the piece of `deal` is on disk and sound. */
  private holds(deal: DealRow): boolean {
    const piece = this.c.store.piece(deal.root);
    return piece?.status === "ok" && this.c.blobs.has(pieceKey(deal.root));
  }

  private async proveDealLeaf(deal: DealRow, leafOffset: bigint): Promise<PieceProofInput> {
    const { store, blobs } = this.c;
    const proposalRow = store.proposal(deal.proposalHash);
    const piece = store.piece(deal.root);
    if (!proposalRow || !piece || piece.status !== "ok" || !blobs.has(pieceKey(deal.root))) {
      throw new ProofUnavailableError("challenged piece is not held", {
        details: { dealId: deal.dealId.toString(), root: deal.root },
      });
    }
    const { height } = pieceGeometry(piece.payloadSize);
    const cache =
      height > CHUNK_LOG2_LEAVES
        ? PieceTreeCache.deserialize(await blobs.readRange(treeKey(deal.root), 0, 32 * 2 ** (height - 15)), height)
        : undefined;
    const proof = await proveLeaf(
      (offset, length) => blobs.readRange(pieceKey(deal.root), offset, length),
      piece.payloadSize,
      Number(leafOffset),
      cache,
    );
    if (toHex(rootFromProof(proof)) !== deal.root.toLowerCase()) {
      store.setPieceStatus(deal.root, "lost");
      throw new ProofUnavailableError("stored piece no longer matches its commitment", {
        details: { dealId: deal.dealId.toString(), root: deal.root, leaf: leafOffset.toString() },
      });
    }
    return {
      termsHash: proposalTermsHash(proposalRow.proposal),
      leaf: toHex(proof.leaf),
      siblings: proof.siblings.map((s) => toHex(s)),
    };
  }
}

const zero = `0x${"00".repeat(32)}` as Hex;
