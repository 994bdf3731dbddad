import { hashStruct, toHex, type Address, type Hex } from "viem";
import { runEvery } from "../core/abort";
import { RepairMarketError } from "../core/errors";
import { DRAWS_PER_CHALLENGE, freeRangeLocator } from "../chain/constants";
import { STORAGE_DEAL_PROPOSAL_TYPES, type StorageDealProposal } from "../chain/eip712";
import { challengedLeaf, dealInfo, freeRange, proofSetInfo } from "../chain/storage-market/reads";
import { provePossession, type PieceProofInput } from "../chain/storage-market/prove-possession";
import { PieceTreeCache, proveLeaf, rootFromProof } from "../piece/piece-proof";
import { CHUNK_LOG2_LEAVES } from "../piece/constants";
import { pieceGeometry } from "../piece/commp";
import type { ProviderContext } from "./context";
import type { DealRow } from "./provider-store";
import { pieceKey, treeKey } from "./piece-intake";

/** A challenged leaf could not be proven from local data (the piece is missing or corrupt). */
export class ProofUnavailableError extends RepairMarketError {
  override name = "ProofUnavailableError" as const;
}

/** EIP-712 struct hash of a proposal (StorageMarket's `termsHash`), computed locally. */
export function proposalTermsHash(proposal: StorageDealProposal): Hex {
  return hashStruct({ data: proposal, primaryType: "StorageDealProposal", types: STORAGE_DEAL_PROPOSAL_TYPES });
}

/**
 * Proves possession every proving period (PDP-style, DESIGN.md "Proofs of possession"): once the
 * current period's challenge epoch has passed it reads the drawn leaves, finds the deal (or freed
 * range) holding each, rebuilds that leaf's path from the piece on disk — one 2^15-leaf chunk
 * re-read, the levels above from the cached chunk roots — checks it locally and submits
 * `provePossession` before the deadline. State lives on chain, so restarts need nothing.
 */
export class Prover {
  private lastFailedGeneration = -1;
  private lastState = "";

  /** Logs (debug) why a tick did or did not prove, once per change: why a period went unproven. */
  private note(state: string, fields: Record<string, unknown>): undefined {
    if (state === this.lastState) return undefined;
    this.lastState = state;
    this.ctx.logger.debug(fields, `prover: ${state}`);
    return undefined;
  }

  constructor(private readonly ctx: ProviderContext) {}

  /** What the current tick is waiting on (for the slow-tick warning). */
  private step = "idle";
  /** The last failed round's error, for the warning when a period goes unproven. */
  private lastRoundError: string | undefined;
  /** Last period a missed-period warning was logged for. */
  private warnedMissed = -1;

  async run(signal: AbortSignal): Promise<void> {
    await runEvery(
      this.ctx.config.proveIntervalMs,
      signal,
      () => this.watched(),
      (err) => {
        this.lastRoundError = (err as Error).message.split("\n")[0];
        this.ctx.logger.warn({ err }, "proving round failed; retrying");
      },
    );
  }

  /** One tick, with a warning every 5 s while it runs naming the step it is stuck in. */
  private async watched(): Promise<number | undefined> {
    const started = Date.now();
    const timer = setInterval(() => {
      this.ctx.logger.warn({ step: this.step, ms: Date.now() - started }, "proving round is slow");
    }, 5000);
    try {
      return await this.tick();
    } finally {
      clearInterval(timer);
      this.step = "idle";
    }
  }

  /** Proves the current period if it is due; returns the period proven, if any. */
  async tick(): Promise<number | undefined> {
    const { clients, contracts, logger, metrics } = this.ctx;
    const self = clients.account.address;
    this.step = "proofSetInfo";
    const set = await proofSetInfo(clients, contracts, self);
    const at = { period: set.currentPeriod, challengeEpoch: set.challengeEpoch, deadlineEpoch: set.deadlineEpoch };
    if (set.anchorEpoch === 0n) return this.note("no live pieces", at);
    if (set.consecutiveFaults > 0 && set.currentPeriod - 1 > this.warnedMissed) {
      // Say why a period was missed, once: the operator's first question after a fault.
      this.warnedMissed = set.currentPeriod - 1;
      logger.warn(
        {
          period: set.currentPeriod - 1,
          consecutiveFaults: set.consecutiveFaults,
          lastError: this.lastRoundError ?? "no proving round reached its window before the deadline",
        },
        "a proving period went unproven",
      );
    }
    if (set.currentPeriodProven) return this.note(`period ${set.currentPeriod} proven`, at);
    if (set.failed) {
      if (this.lastFailedGeneration !== set.generation) {
        logger.error({ generation: set.generation }, "proof set failed: missed too many periods in a row");
        this.lastFailedGeneration = set.generation;
      }
      return undefined;
    }
    this.step = "getBlockNumber";
    const latest = await clients.public.getBlockNumber();
    if (latest <= set.challengeEpoch) return this.note(`period ${set.currentPeriod}: waiting for the challenge`, at);
    if (latest >= set.deadlineEpoch)
      return this.note(`period ${set.currentPeriod}: deadline passed`, { ...at, latest });
    this.note(`period ${set.currentPeriod}: proving`, { ...at, latest });
    const started = performance.now();
    let proofs: PieceProofInput[];
    try {
      this.step = "buildProofs";
      proofs = await this.buildProofs(self, set.generation);
    } catch (err) {
      metrics.proofs.inc({ result: "unavailable" });
      throw err;
    }
    this.step = "provePossession";
    const result = await provePossession(clients, contracts, proofs);
    metrics.proofs.inc({ result: "proven" });
    this.lastRoundError = undefined;
    metrics.proveSeconds.observe((performance.now() - started) / 1000);
    const landed = result.blockNumber;
    logger.info(
      {
        period: result.period,
        verified: result.verified,
        txHash: result.hash,
        ms: Math.round(performance.now() - started),
        // Epochs to spare before the deadline: how close this round came to a missed period.
        marginEpochs: Number(set.deadlineEpoch - landed),
      },
      "possession proven",
    );
    return result.period;
  }

  /**
   * Answers the draws in order until `challengesPerProof` of them proved a live leaf. The reads
   * for a batch of draws run side by side (one round trip, not one per draw): a round must fit
   * in the proof window on a loaded machine and a slow endpoint.
   */
  private async buildProofs(self: Address, generation: number): Promise<PieceProofInput[]> {
    const { clients, contracts, params } = this.ctx;
    const deals = this.ctx.store.openDeals().filter((d) => d.generation === generation);
    const required = params.challengesPerProof;
    const maxDraws = required * DRAWS_PER_CHALLENGE;
    const proofs: PieceProofInput[] = [];
    let verified = 0;
    let draw = 0;
    while (draw < maxDraws && verified < required) {
      // Enough draws to finish if none lands in a freed range.
      const batch = Array.from({ length: Math.min(required - verified, maxDraws - draw) }, (_, i) => draw + i);
      const owners = await Promise.all(
        batch.map(async (d) => {
          const leaf = await challengedLeaf(clients, contracts, self, BigInt(d));
          return { leaf, owner: await this.liveOwner(deals, leaf, generation) };
        }),
      );
      for (const { leaf, owner } of owners) {
        draw++;
        if (owner) {
          proofs.push(await this.proveDealLeaf(owner, leaf));
          verified++;
        } else {
          proofs.push({
            dealId: await this.freeRangeOf(self, generation, leaf),
            termsHash: zero,
            leaf: zero,
            siblings: [],
          });
        }
      }
    }
    return proofs;
  }

  /** The open deal holding `leaf`, confirmed on chain (anyone may have closed it meanwhile). */
  private async liveOwner(deals: DealRow[], leaf: bigint, generation: number): Promise<DealRow | undefined> {
    for (const deal of deals) {
      if (leaf < deal.startLeaf || leaf >= deal.startLeaf + (1n << BigInt(deal.log2Leaves))) continue;
      const info = await dealInfo(this.ctx.clients, this.ctx.contracts, deal.dealId);
      if (info.generation === generation && info.stateName !== "Terminated" && info.stateName !== "Expired")
        return deal;
      this.ctx.store.closeDeal(deal.dealId, `closed on chain (${info.stateName})`);
    }
    return undefined;
  }

  private async proveDealLeaf(deal: DealRow, leaf: bigint): Promise<PieceProofInput> {
    const { store, blobs } = this.ctx;
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
      Number(leaf - deal.startLeaf),
      cache,
    );
    if (toHex(rootFromProof(proof)) !== deal.root.toLowerCase()) {
      store.setPieceStatus(deal.root, "lost");
      throw new ProofUnavailableError("stored piece no longer matches its commitment", {
        details: { dealId: deal.dealId.toString(), root: deal.root, leaf: leaf.toString() },
      });
    }
    return {
      dealId: deal.dealId,
      termsHash: proposalTermsHash(proposalRow.proposal),
      leaf: toHex(proof.leaf),
      siblings: proof.siblings.map((s) => toHex(s)),
    };
  }

  private async freeRangeOf(self: Address, generation: number, leaf: bigint): Promise<bigint> {
    for (let log2 = 2; log2 <= 31; log2++) {
      const { count } = await freeRange(this.ctx.clients, this.ctx.contracts, self, generation, log2, 0n);
      for (let i = 0n; i < count; i++) {
        const { startLeaf } = await freeRange(this.ctx.clients, this.ctx.contracts, self, generation, log2, i);
        if (leaf >= startLeaf && leaf < startLeaf + (1n << BigInt(log2))) return freeRangeLocator(log2, i);
      }
    }
    throw new ProofUnavailableError("challenged leaf is in no local deal and no freed range", {
      details: { leaf: leaf.toString(), generation },
    });
  }
}

const zero = `0x${"00".repeat(32)}` as Hex;
