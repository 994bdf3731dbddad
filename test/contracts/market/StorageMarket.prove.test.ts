import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, mine } from "@nomicfoundation/hardhat-network-helpers";
import {
  PERIOD,
  advanceToChallengeWindow,
  advanceToNextPeriod,
  deployMarket,
  makePiece,
  publishDeals,
} from "../helpers/market";
import { TestProver } from "../helpers/prover";
import { FREE_RANGE_FLAG, freeRangeLocator } from "../../../actors-ts/chain/constants";

describe("StorageMarket: provePossession", () => {
  async function withDeals() {
    const f = await deployMarket();
    // Real random bytes of several shapes, one spanning four 2^15-leaf chunks.
    const pieces = [makePiece(1000), makePiece(70_000), makePiece(3 * 1_040_384 + 11), makePiece(127)];
    const deals = await publishDeals(f, pieces);
    const prover = new TestProver(f.market, f.provider).track(...deals);
    return { ...f, deals, prover };
  }

  it("accepts proofs built by the TypeScript CommP prover from real bytes", async () => {
    const f = await loadFixture(withDeals);
    await advanceToChallengeWindow(f.market, f.provider.address);
    const proofs = await f.prover.buildProofs();
    expect(proofs).to.have.length(5);
    await expect(f.market.connect(f.provider).provePossession(proofs))
      .to.emit(f.market, "PossessionProven")
      .withArgs(f.provider.address, 0n, 0n, 5n);
    const set = await f.market.proofSetInfo(f.provider.address);
    expect(set.currentPeriodProven).to.equal(true);
    expect(set.provenPeriods).to.equal(1n);
    expect((await f.market.dealInfo(f.deals[0].dealId)).state).to.equal(2n); // Active
  });

  it("keeps accepting proofs period after period", async () => {
    const f = await loadFixture(withDeals);
    for (let period = 0n; period < 4n; period++) {
      await advanceToChallengeWindow(f.market, f.provider.address);
      await expect(f.market.connect(f.provider).provePossession(await f.prover.buildProofs()))
        .to.emit(f.market, "PossessionProven")
        .withArgs(f.provider.address, 0n, period, 5n);
      await advanceToNextPeriod(f.market, f.provider.address);
    }
    expect((await f.market.proofSetInfo(f.provider.address)).provenPeriods).to.equal(4n);
  });

  it("reverts when one byte of a challenged leaf is flipped", async () => {
    const f = await loadFixture(withDeals);
    await advanceToChallengeWindow(f.market, f.provider.address);
    const proofs = await f.prover.buildProofs();
    const leaf = ethers.getBytes(proofs[2].leaf);
    leaf[7] ^= 0x01;
    proofs[2].leaf = ethers.hexlify(leaf);
    await expect(f.market.connect(f.provider).provePossession(proofs))
      .to.be.revertedWithCustomError(f.market, "InvalidMerkleProof")
      .withArgs(2n, proofs[2].dealId);
  });

  it("reverts when one sibling of a path is flipped", async () => {
    const f = await loadFixture(withDeals);
    await advanceToChallengeWindow(f.market, f.provider.address);
    const proofs = await f.prover.buildProofs();
    const siblings = proofs[0].siblings as string[];
    const sibling = ethers.getBytes(siblings[siblings.length - 1]);
    sibling[0] ^= 0x80;
    siblings[siblings.length - 1] = ethers.hexlify(sibling);
    await expect(f.market.connect(f.provider).provePossession(proofs))
      .to.be.revertedWithCustomError(f.market, "InvalidMerkleProof")
      .withArgs(0n, proofs[0].dealId);
  });

  it("reverts when a path has the wrong length", async () => {
    const f = await loadFixture(withDeals);
    await advanceToChallengeWindow(f.market, f.provider.address);
    const proofs = await f.prover.buildProofs();
    (proofs[1].siblings as string[]).pop();
    await expect(f.market.connect(f.provider).provePossession(proofs))
      .to.be.revertedWithCustomError(f.market, "InvalidMerkleProof")
      .withArgs(1n, proofs[1].dealId);
  });

  it("reverts when the terms hash does not open the deal's key", async () => {
    const f = await loadFixture(withDeals);
    await advanceToChallengeWindow(f.market, f.provider.address);
    const proofs = await f.prover.buildProofs();
    proofs[0].termsHash = ethers.ZeroHash;
    await expect(f.market.connect(f.provider).provePossession(proofs))
      .to.be.revertedWithCustomError(f.market, "InvalidMerkleProof")
      .withArgs(0n, proofs[0].dealId);
  });

  it("reverts when an answer names a deal that does not hold the drawn leaf", async () => {
    const f = await loadFixture(withDeals);
    await advanceToChallengeWindow(f.market, f.provider.address);
    const proofs = await f.prover.buildProofs();
    const leaf = await f.market.challengedLeaf(f.provider.address, 0n);
    const wrong = f.deals.find((d) => d.dealId !== proofs[0].dealId);
    proofs[0].dealId = wrong?.dealId ?? 0n;
    await expect(f.market.connect(f.provider).provePossession(proofs))
      .to.be.revertedWithCustomError(f.market, "ChallengeNotInPiece")
      .withArgs(0n, leaf, proofs[0].dealId);
  });

  it("reverts when an answer names another provider's deal", async () => {
    const f = await loadFixture(withDeals);
    const [foreign] = await publishDeals(f, [makePiece(1000)], { provider: f.provider2 });
    await advanceToChallengeWindow(f.market, f.provider.address);
    const proofs = await f.prover.buildProofs();
    proofs[0].dealId = foreign.dealId;
    await expect(f.market.connect(f.provider).provePossession(proofs))
      .to.be.revertedWithCustomError(f.market, "NotDealProvider")
      .withArgs(foreign.dealId, f.provider.address);
  });

  it("reverts when an answer names an unknown deal", async () => {
    const f = await loadFixture(withDeals);
    await advanceToChallengeWindow(f.market, f.provider.address);
    const proofs = await f.prover.buildProofs();
    proofs[0].dealId = 999n;
    await expect(f.market.connect(f.provider).provePossession(proofs))
      .to.be.revertedWithCustomError(f.market, "DealNotFound")
      .withArgs(999n);
  });

  it("reverts when a leaf inside a live deal is claimed to be free", async () => {
    const f = await loadFixture(withDeals);
    await advanceToChallengeWindow(f.market, f.provider.address);
    const proofs = await f.prover.buildProofs();
    const leaf = await f.market.challengedLeaf(f.provider.address, 3n);
    proofs[3] = { ...proofs[3], dealId: freeRangeLocator(10, 0n) };
    await expect(f.market.connect(f.provider).provePossession(proofs))
      .to.be.revertedWithCustomError(f.market, "ChallengeNotInFreeRange")
      .withArgs(3n, leaf, freeRangeLocator(10, 0n));
  });

  it("reverts before the challenge epoch has passed", async () => {
    const f = await loadFixture(withDeals);
    const info = await f.market.proofSetInfo(f.provider.address);
    const now = BigInt(await ethers.provider.getBlockNumber());
    await mine(info.challengeEpoch - now - 1n); // the proof lands exactly on the challenge epoch
    await expect(f.market.connect(f.provider).provePossession([]))
      .to.be.revertedWithCustomError(f.market, "ChallengeWindowNotOpen")
      .withArgs(f.provider.address, info.challengeEpoch, info.challengeEpoch);
  });

  it("reverts for a provider without live pieces", async () => {
    const f = await loadFixture(withDeals);
    await expect(f.market.connect(f.other).provePossession([]))
      .to.be.revertedWithCustomError(f.market, "NoProofSet")
      .withArgs(f.other.address);
  });

  it("reverts when the period is already proven", async () => {
    const f = await loadFixture(withDeals);
    await advanceToChallengeWindow(f.market, f.provider.address);
    await f.prover.prove();
    await expect(f.market.connect(f.provider).provePossession(await f.prover.buildProofs().catch(() => [])))
      .to.be.revertedWithCustomError(f.market, "PeriodAlreadyProven")
      .withArgs(f.provider.address, 0n);
  });

  it("reverts with too few answers", async () => {
    const f = await loadFixture(withDeals);
    await advanceToChallengeWindow(f.market, f.provider.address);
    const proofs = (await f.prover.buildProofs()).slice(0, 4);
    await expect(f.market.connect(f.provider).provePossession(proofs))
      .to.be.revertedWithCustomError(f.market, "TooFewProofs")
      .withArgs(4n, 4n, 5n);
  });

  it("reverts with answers beyond those needed", async () => {
    const f = await loadFixture(withDeals);
    await advanceToChallengeWindow(f.market, f.provider.address);
    const proofs = await f.prover.buildProofs();
    await expect(f.market.connect(f.provider).provePossession([...proofs, proofs[0]]))
      .to.be.revertedWithCustomError(f.market, "TooManyProofs")
      .withArgs(6n, 5n);
    const tooMany = Array.from({ length: 21 }, () => proofs[0]);
    await expect(f.market.connect(f.provider).provePossession(tooMany))
      .to.be.revertedWithCustomError(f.market, "TooManyProofs")
      .withArgs(21n, 20n);
  });

  it("reverts once the set has missed maxConsecutiveFaults periods", async () => {
    const f = await loadFixture(withDeals);
    await mine(3n * PERIOD);
    await advanceToChallengeWindow(f.market, f.provider.address);
    await expect(f.market.connect(f.provider).provePossession([]))
      .to.be.revertedWithCustomError(f.market, "ProofSetHasFailed")
      .withArgs(f.provider.address, 0n);
  });

  it("redraws challenges that land in a freed range and still proves the set", async () => {
    const f = await deployMarket();
    // Deal A (1024 leaves) ends one epoch after it starts; deal B (256 leaves) runs on. Once A
    // closes, 4/5 of the set is a freed range.
    const now = BigInt(await ethers.provider.getBlockNumber());
    const [a] = await publishDeals(f, [makePiece(127 * 256)], {
      fields: { startEpoch: now + 3n * PERIOD, endEpoch: now + 3n * PERIOD + 1n },
    });
    const [b] = await publishDeals(f, [makePiece(127 * 64)]);
    const prover = new TestProver(f.market, f.provider).track(a, b);
    while (BigInt(await ethers.provider.getBlockNumber()) < a.proposal.endEpoch + PERIOD) {
      await advanceToChallengeWindow(f.market, f.provider.address);
      await prover.prove();
      await advanceToNextPeriod(f.market, f.provider.address);
    }
    const generation = (await f.market.proofSetInfo(f.provider.address)).generation;
    await expect(f.market.settleDeals([a.dealId], [a.proposal]))
      .to.emit(f.market, "RangeFreed")
      .withArgs(f.provider.address, generation, 10n, 0n, 0n);
    expect((await f.market.freeRange(f.provider.address, generation, 10, 0)).map(BigInt)).to.deep.equal([0n, 1n]);

    await advanceToChallengeWindow(f.market, f.provider.address);
    const proofs = await prover.buildProofs();
    const holes = proofs.filter((p) => (BigInt(p.dealId) & FREE_RANGE_FLAG) !== 0n).length;
    const verified = proofs.length - holes;
    expect(holes).to.be.greaterThan(0);
    expect(verified === 5 || proofs.length === 20).to.equal(true);
    await expect(f.market.connect(f.provider).provePossession(proofs))
      .to.emit(f.market, "PossessionProven")
      .withArgs(
        f.provider.address,
        generation,
        (await f.market.proofSetInfo(f.provider.address)).currentPeriod,
        verified,
      );

    // The next piece of the same size takes the freed range back.
    const [c] = await publishDeals(f, [makePiece(127 * 256)]);
    expect((await f.market.dealInfo(c.dealId)).startLeaf).to.equal(0n);
    expect((await f.market.freeRange(f.provider.address, generation, 10, 0))[1]).to.equal(0n);
  });

  it("draws from the leaves that existed at the challenge epoch", async () => {
    const f = await deployMarket();
    const [small] = await publishDeals(f, [makePiece(100)]);
    await advanceToChallengeWindow(f.market, f.provider.address);
    // Appended after the challenge epoch: 2^10 leaves that must not be drawn this period.
    const [late] = await publishDeals(f, [makePiece(127 * 256)]);
    expect((await f.market.dealInfo(late.dealId)).startLeaf).to.equal(4n);
    expect((await f.market.proofSetInfo(f.provider.address)).totalLeaves).to.equal(4n + 1024n);
    for (let draw = 0n; draw < 20n; draw++) {
      expect(await f.market.challengedLeaf(f.provider.address, draw)).to.be.lessThan(4n);
    }
    await new TestProver(f.market, f.provider).track(small, late).prove();
  });
});
