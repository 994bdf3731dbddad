import { ethers } from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { proveLeaf } from "../../../actors-ts/piece";
import type { StorageMarket } from "../../../typechain-types";
import type { PieceProofStruct } from "../../../typechain-types/contracts/market/StorageMarket";
import type { PublishedDeal } from "./market";
import { DRAWS_PER_CHALLENGE, freeRangeLocator } from "../../../actors-ts/chain/constants";

const MAX_LOG2_LEAVES = 31;

/**
 * Answers a provider's challenges from in-memory pieces, the way the provider daemon does from
 * disk: find which deal (or freed range) holds each drawn leaf and build its sha254 path.
 */
export class TestProver {
  private readonly deals = new Map<bigint, PublishedDeal>();

  constructor(
    private readonly market: StorageMarket,
    readonly signer: HardhatEthersSigner,
  ) {}

  track(...deals: PublishedDeal[]): this {
    for (const deal of deals) this.deals.set(deal.dealId, deal);
    return this;
  }

  forget(dealId: bigint): void {
    this.deals.delete(dealId);
  }

  /** Builds the answers for the current period (the challenge epoch must have passed). */
  async buildProofs(): Promise<PieceProofStruct[]> {
    const provider = this.signer.address;
    const info = await this.market.proofSetInfo(provider);
    const required = BigInt((await this.market.marketParams()).challengesPerProof);
    const answers: PieceProofStruct[] = [];
    let verified = 0n;
    for (let draw = 0n; draw < required * BigInt(DRAWS_PER_CHALLENGE) && verified < required; draw++) {
      const leaf = await this.market.challengedLeaf(provider, draw);
      const owner = await this.findOwner(leaf, info.generation);
      if (owner) {
        const { deal, startLeaf } = owner;
        const proof = await proveLeaf(
          async (offset, length) => deal.piece.payload.subarray(offset, offset + length),
          deal.piece.payload.length,
          Number(leaf - startLeaf),
          deal.piece.cache,
        );
        answers.push({
          dealId: deal.dealId,
          termsHash: await this.market.termsHash(deal.proposal),
          leaf: ethers.hexlify(proof.leaf),
          siblings: proof.siblings.map((s) => ethers.hexlify(s)),
        });
        verified++;
      } else {
        answers.push({
          dealId: await this.findFreeRange(leaf, info.generation),
          termsHash: ethers.ZeroHash,
          leaf: ethers.ZeroHash,
          siblings: [],
        });
      }
    }
    return answers;
  }

  /** Builds and submits the proof for the current period. */
  async prove(): Promise<void> {
    const proofs = await this.buildProofs();
    await (await this.market.connect(this.signer).provePossession(proofs)).wait();
  }

  private async findOwner(
    leaf: bigint,
    generation: bigint,
  ): Promise<{ deal: PublishedDeal; startLeaf: bigint } | undefined> {
    for (const deal of this.deals.values()) {
      const info = await this.market.dealInfo(deal.dealId);
      if (info.generation !== generation || info.state >= 4n) continue;
      const leaves = info.pieceSize / 32n;
      if (leaf >= info.startLeaf && leaf < info.startLeaf + leaves) return { deal, startLeaf: info.startLeaf };
    }
    return undefined;
  }

  private async findFreeRange(leaf: bigint, generation: bigint): Promise<bigint> {
    for (let log2 = 2; log2 <= MAX_LOG2_LEAVES; log2++) {
      const [, count] = await this.market.freeRange(this.signer.address, generation, log2, 0);
      for (let i = 0n; i < count; i++) {
        const [start] = await this.market.freeRange(this.signer.address, generation, log2, i);
        if (leaf >= start && leaf < start + (1n << BigInt(log2))) return freeRangeLocator(log2, i);
      }
    }
    throw new Error(`leaf ${leaf} is in no tracked deal and no free range`);
  }
}
