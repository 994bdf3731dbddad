import { ethers } from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { proveLeaf } from "../../../actors-ts/piece";
import type { StorageMarket } from "../../../typechain-types";
import type { PieceProofStruct } from "../../../typechain-types/contracts/market/StorageMarket";
import { dataSetOf, type PublishedDeal } from "./market";
import { DRAWS_PER_CHALLENGE } from "../../../actors-ts/chain/constants";

/** The empty answer to a draw in a piece whose deal closed during the open window. */
export const EMPTY_ANSWER: PieceProofStruct = { termsHash: ethers.ZeroHash, leaf: ethers.ZeroHash, siblings: [] };

/**
 * Answers a data set's challenges from in-memory pieces, the way the provider daemon does from
 * disk: ask the market which deal and leaf each draw picked and build that leaf's sha254 path.
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

  /**
   * Builds the answers for the current period of `dataSetId` (default: the signer's current
   * data set); the challenge epoch must have passed. A draw in a forgotten deal fails.
   */
  async buildProofs(dataSetId?: bigint): Promise<PieceProofStruct[]> {
    return (await this.buildAnswers(dataSetId)).answers;
  }

  /**
   * As `buildProofs`, but with `lossy` a draw in a deal this prover does not hold gets the empty
   * answer instead of failing: how a provider missing data would try its luck. `guessed` counts
   * empty answers given to open deals (a proof with any must be refused).
   */
  async buildAnswers(dataSetId?: bigint, lossy = false): Promise<{ answers: PieceProofStruct[]; guessed: number }> {
    let guessed = 0;
    const id = dataSetId ?? (await dataSetOf(this.market, this.signer.address));
    const required = BigInt((await this.market.marketParams()).challengesPerProof);
    const answers: PieceProofStruct[] = [];
    let verified = 0n;
    for (let draw = 0n; draw < required * BigInt(DRAWS_PER_CHALLENGE) && verified < required; draw++) {
      const [dealId, offset, closed] = await this.market.challengedPiece(id, draw);
      const deal = this.deals.get(dealId);
      if (closed && !deal) {
        answers.push(EMPTY_ANSWER);
        continue;
      }
      if (!deal && lossy) {
        answers.push(EMPTY_ANSWER);
        guessed++;
        verified++; // pretend, as a cheating prover would, and go on
        continue;
      }
      if (!deal) throw new Error(`draw ${draw} landed in deal ${dealId}, which this prover does not hold`);
      const proof = await proveLeaf(
        async (start, length) => deal.piece.payload.subarray(start, start + length),
        deal.piece.payload.length,
        Number(offset),
        deal.piece.cache,
      );
      answers.push({
        termsHash: await this.market.termsHash(deal.proposal),
        leaf: ethers.hexlify(proof.leaf),
        siblings: proof.siblings.map((s) => ethers.hexlify(s)),
      });
      verified++;
    }
    return { answers, guessed };
  }

  /** Builds and submits the proof for the current period of `dataSetId` (default as above). */
  async prove(dataSetId?: bigint): Promise<void> {
    const id = dataSetId ?? (await dataSetOf(this.market, this.signer.address));
    const proofs = await this.buildProofs(id);
    await (await this.market.connect(this.signer).provePossession(id, proofs)).wait();
  }
}
