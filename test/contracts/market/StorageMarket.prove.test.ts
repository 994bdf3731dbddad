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
import { EMPTY_ANSWER, TestProver } from "../helpers/prover";

describe("StorageMarket: provePossession", () => {
  async function withDeals() {
    const f = await deployMarket();
    // Real random bytes of several shapes, one spanning four 2^15-leaf chunks.
    const pieces = [makePiece(1000), makePiece(70_000), makePiece(3 * 1_040_384 + 11), makePiece(127)];
    const deals = await publishDeals(f, pieces);
    const prover = new TestProver(f.market, f.provider).track(...deals);
    const dataSetId = (await f.market.dealInfo(deals[0].dealId)).dataSetId;
    return { ...f, deals, prover, dataSetId };
  }

  it("accepts proofs built by the TypeScript CommP prover from real bytes", async () => {
    const f = await loadFixture(withDeals);
    await advanceToChallengeWindow(f.market, f.provider.address);
    const proofs = await f.prover.buildProofs();
    expect(proofs).to.have.length(5);
    await expect(f.market.connect(f.provider).provePossession(f.dataSetId, proofs))
      .to.emit(f.market, "PossessionProven")
      .withArgs(f.dataSetId, f.provider.address, 0n, 5n);
    const set = await f.market.dataSetInfo(f.dataSetId);
    expect(set.currentPeriodProven).to.equal(true);
    expect(set.provenPeriods).to.equal(1n);
    expect((await f.market.dealInfo(f.deals[0].dealId)).state).to.equal(2n); // Active
  });

  it("keeps accepting proofs period after period", async () => {
    const f = await loadFixture(withDeals);
    for (let period = 0n; period < 4n; period++) {
      await advanceToChallengeWindow(f.market, f.provider.address);
      await expect(f.market.connect(f.provider).provePossession(f.dataSetId, await f.prover.buildProofs()))
        .to.emit(f.market, "PossessionProven")
        .withArgs(f.dataSetId, f.provider.address, period, 5n);
      await advanceToNextPeriod(f.market, f.provider.address);
    }
    expect((await f.market.dataSetInfo(f.dataSetId)).provenPeriods).to.equal(4n);
  });

  it("reverts when one byte of a challenged leaf is flipped", async () => {
    const f = await loadFixture(withDeals);
    await advanceToChallengeWindow(f.market, f.provider.address);
    const proofs = await f.prover.buildProofs();
    const leaf = ethers.getBytes(proofs[2].leaf);
    leaf[7] ^= 0x01;
    proofs[2].leaf = ethers.hexlify(leaf);
    await expect(f.market.connect(f.provider).provePossession(f.dataSetId, proofs))
      .to.be.revertedWithCustomError(f.market, "InvalidMerkleProof")
      .withArgs(2n, (await f.market.challengedPiece(f.dataSetId, 2n)).dealId);
  });

  it("reverts when one sibling of a path is flipped", async () => {
    const f = await loadFixture(withDeals);
    await advanceToChallengeWindow(f.market, f.provider.address);
    const proofs = await f.prover.buildProofs();
    const siblings = proofs[0].siblings as string[];
    const sibling = ethers.getBytes(siblings[siblings.length - 1]);
    sibling[0] ^= 0x80;
    siblings[siblings.length - 1] = ethers.hexlify(sibling);
    await expect(f.market.connect(f.provider).provePossession(f.dataSetId, proofs))
      .to.be.revertedWithCustomError(f.market, "InvalidMerkleProof")
      .withArgs(0n, (await f.market.challengedPiece(f.dataSetId, 0n)).dealId);
  });

  it("reverts when a path has the wrong length", async () => {
    const f = await loadFixture(withDeals);
    await advanceToChallengeWindow(f.market, f.provider.address);
    const proofs = await f.prover.buildProofs();
    (proofs[1].siblings as string[]).pop();
    await expect(f.market.connect(f.provider).provePossession(f.dataSetId, proofs))
      .to.be.revertedWithCustomError(f.market, "InvalidMerkleProof")
      .withArgs(1n, (await f.market.challengedPiece(f.dataSetId, 1n)).dealId);
  });

  it("reverts when the terms hash does not open the deal's key", async () => {
    const f = await loadFixture(withDeals);
    await advanceToChallengeWindow(f.market, f.provider.address);
    const proofs = await f.prover.buildProofs();
    proofs[0].termsHash = ethers.ZeroHash;
    await expect(f.market.connect(f.provider).provePossession(f.dataSetId, proofs))
      .to.be.revertedWithCustomError(f.market, "InvalidMerkleProof")
      .withArgs(0n, (await f.market.challengedPiece(f.dataSetId, 0n)).dealId);
  });

  it("reverts when an answer proves another leaf than the one drawn", async () => {
    const f = await loadFixture(withDeals);
    await advanceToChallengeWindow(f.market, f.provider.address);
    const proofs = await f.prover.buildProofs();
    const drawn = await Promise.all([0n, 1n, 2n, 3n, 4n].map((d) => f.market.challengedPiece(f.dataSetId, d)));
    const other = drawn.findIndex((d) => d.dealId !== drawn[0].dealId || d.leafOffset !== drawn[0].leafOffset);
    if (other < 0) throw new Error("all five draws picked one leaf");
    proofs[0] = proofs[other];
    await expect(f.market.connect(f.provider).provePossession(f.dataSetId, proofs))
      .to.be.revertedWithCustomError(f.market, "InvalidMerkleProof")
      .withArgs(0n, drawn[0].dealId);
  });

  it("reverts when another provider proves the data set", async () => {
    const f = await loadFixture(withDeals);
    await advanceToChallengeWindow(f.market, f.provider.address);
    const proofs = await f.prover.buildProofs();
    await expect(f.market.connect(f.provider2).provePossession(f.dataSetId, proofs))
      .to.be.revertedWithCustomError(f.market, "NotDataSetProvider")
      .withArgs(f.dataSetId, f.provider2.address);
  });

  it("reverts when an open deal's draw gets the empty answer", async () => {
    const f = await loadFixture(withDeals);
    await advanceToChallengeWindow(f.market, f.provider.address);
    const proofs = await f.prover.buildProofs();
    proofs[3] = EMPTY_ANSWER;
    await expect(f.market.connect(f.provider).provePossession(f.dataSetId, proofs))
      .to.be.revertedWithCustomError(f.market, "InvalidMerkleProof")
      .withArgs(3n, (await f.market.challengedPiece(f.dataSetId, 3n)).dealId);
  });

  it("reverts before the challenge epoch has passed", async () => {
    const f = await loadFixture(withDeals);
    const info = await f.market.dataSetInfo(f.dataSetId);
    const now = BigInt(await ethers.provider.getBlockNumber());
    await mine(info.challengeEpoch - now - 1n); // the proof lands exactly on the challenge epoch
    await expect(f.market.connect(f.provider).provePossession(f.dataSetId, []))
      .to.be.revertedWithCustomError(f.market, "ChallengeWindowNotOpen")
      .withArgs(f.dataSetId, info.challengeEpoch, info.challengeEpoch);
  });

  it("reverts for a data set that does not exist", async () => {
    const f = await loadFixture(withDeals);
    await expect(f.market.connect(f.other).provePossession(99n, []))
      .to.be.revertedWithCustomError(f.market, "NoDataSet")
      .withArgs(99n);
  });

  it("reverts when the period is already proven", async () => {
    const f = await loadFixture(withDeals);
    await advanceToChallengeWindow(f.market, f.provider.address);
    await f.prover.prove();
    await expect(f.market.connect(f.provider).provePossession(f.dataSetId, []))
      .to.be.revertedWithCustomError(f.market, "PeriodAlreadyProven")
      .withArgs(f.dataSetId, 0n);
  });

  it("reverts with too few answers", async () => {
    const f = await loadFixture(withDeals);
    await advanceToChallengeWindow(f.market, f.provider.address);
    const proofs = (await f.prover.buildProofs()).slice(0, 4);
    await expect(f.market.connect(f.provider).provePossession(f.dataSetId, proofs))
      .to.be.revertedWithCustomError(f.market, "TooFewProofs")
      .withArgs(4n, 4n, 5n);
  });

  it("reverts with answers beyond those needed", async () => {
    const f = await loadFixture(withDeals);
    await advanceToChallengeWindow(f.market, f.provider.address);
    const proofs = await f.prover.buildProofs();
    await expect(f.market.connect(f.provider).provePossession(f.dataSetId, [...proofs, proofs[0]]))
      .to.be.revertedWithCustomError(f.market, "TooManyProofs")
      .withArgs(6n, 5n);
    const tooMany = Array.from({ length: 81 }, () => proofs[0]);
    await expect(f.market.connect(f.provider).provePossession(f.dataSetId, tooMany))
      .to.be.revertedWithCustomError(f.market, "TooManyProofs")
      .withArgs(81n, 80n);
  });

  it("reverts once the set has missed maxConsecutiveFaults periods", async () => {
    const f = await loadFixture(withDeals);
    await mine(3n * PERIOD);
    await advanceToChallengeWindow(f.market, f.provider.address);
    await expect(f.market.connect(f.provider).provePossession(f.dataSetId, []))
      .to.be.revertedWithCustomError(f.market, "DataSetHasFailed")
      .withArgs(f.dataSetId);
  });

  it("draws only live leaves once a deal closed: a removed piece is never drawn", async () => {
    const f = await deployMarket();
    // Deal A (1024 leaves) ends one epoch after it starts; deal B (256 leaves) runs on.
    const now = BigInt(await ethers.provider.getBlockNumber());
    const [a] = await publishDeals(f, [makePiece(127 * 256)], {
      fields: { startEpoch: now + 3n * PERIOD, endEpoch: now + 3n * PERIOD + 1n },
    });
    const [b] = await publishDeals(f, [makePiece(127 * 64)]);
    const dataSetId = (await f.market.dealInfo(b.dealId)).dataSetId;
    const prover = new TestProver(f.market, f.provider).track(a, b);
    while (BigInt(await ethers.provider.getBlockNumber()) < a.proposal.endEpoch + PERIOD) {
      await advanceToChallengeWindow(f.market, dataSetId);
      await prover.prove(dataSetId);
      await advanceToNextPeriod(f.market, dataSetId);
    }
    // Settled before the challenge epoch: the piece leaves the tree at once.
    await expect(f.market.settleDeals([a.dealId], [a.proposal]))
      .to.emit(f.market, "PieceRemoved")
      .withArgs(dataSetId, a.dealId, 1n);
    expect((await f.market.dataSetInfo(dataSetId)).liveLeaves).to.equal(256n);
    prover.forget(a.dealId);
    await advanceToChallengeWindow(f.market, dataSetId);
    for (let draw = 0n; draw < 40n; draw++) {
      expect((await f.market.challengedPiece(dataSetId, draw)).dealId).to.equal(b.dealId);
    }
    const proofs = await prover.buildProofs(dataSetId);
    expect(proofs).to.have.length(5);
    await expect(f.market.connect(f.provider).provePossession(dataSetId, proofs)).to.emit(f.market, "PossessionProven");
  });

  it("draws from the pieces that existed at the challenge epoch", async () => {
    const f = await deployMarket();
    const [small] = await publishDeals(f, [makePiece(100)]);
    const dataSetId = (await f.market.dealInfo(small.dealId)).dataSetId;
    await advanceToChallengeWindow(f.market, dataSetId);
    // Appended after the challenge epoch: 2^10 leaves that must not be drawn this period.
    const [late] = await publishDeals(f, [makePiece(127 * 256)]);
    expect((await f.market.dealInfo(late.dealId)).dataSetId).to.equal(dataSetId);
    expect((await f.market.dataSetInfo(dataSetId)).liveLeaves).to.equal(4n + 1024n);
    for (let draw = 0n; draw < 20n; draw++) {
      expect((await f.market.challengedPiece(dataSetId, draw)).dealId).to.equal(small.dealId);
    }
    await new TestProver(f.market, f.provider).track(small).prove(dataSetId);
  });
});
