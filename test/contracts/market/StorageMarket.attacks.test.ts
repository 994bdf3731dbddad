import { expect } from "chai";
import { ethers } from "hardhat";
import { mine } from "@nomicfoundation/hardhat-network-helpers";
import { proveLeaf, zeroPieceProof, zeroRoot } from "../../../actors-ts/piece";
import {
  PERIOD,
  advanceToChallengeWindow,
  advanceToNextPeriod,
  clientLock,
  deployMarket,
  expectFundsConserved,
  makePiece,
  makeProposal,
  publishDeals,
  signProposal,
  type MarketFixture,
  type PublishedDeal,
  payloadLeaves,
} from "../helpers/market";
import { EMPTY_ANSWER, TestProver } from "../helpers/prover";
import type { StorageDealProposal } from "../../../actors-ts/chain/eip712";
import type { PieceProofStruct } from "../../../typechain-types/contracts/market/StorageMarket";

const CLOSE = { Expired: 0n, FaultDeclared: 1n, DataSetFailed: 2n, NotActivated: 3n };
const STATE = { Published: 1n, Active: 2n, Faulted: 3n, Terminated: 4n, Expired: 5n };
/** Largest piece the market accepts: 2^36 bytes = 2^31 leaves. */
const MAX_LOG2_LEAVES = 31;

/**
 * Publishes a deal of a "virtual" all-zero piece of 2^log2Leaves leaves between `provider` and
 * `client` (a self-deal when they are one account): its commitment is the zero-subtree root, so
 * every leaf's path is the list of zero-subtree hashes and nothing need be stored.
 */
async function publishZeroDeal(
  f: MarketFixture,
  provider: MarketFixture["provider"],
  client: MarketFixture["provider"],
  log2Leaves: number,
  fields: { storagePricePerEpoch?: bigint; providerCollateral?: bigint } = {},
): Promise<{ dealId: bigint; proposal: Awaited<ReturnType<typeof makeProposal>> }> {
  const proposal = await makeProposal({
    client: client.address,
    provider: provider.address,
    pieceCid: ethers.hexlify(zeroRoot(log2Leaves)) as `0x${string}`,
    pieceSize: 32n << BigInt(log2Leaves),
    storagePricePerEpoch: fields.storagePricePerEpoch ?? 0n,
    providerCollateral: fields.providerCollateral ?? 0n,
    clientCollateral: 0n,
  });
  if (clientLock(proposal) > 0n) await f.market.connect(client).addBalance(client.address, clientLock(proposal));
  if (proposal.providerCollateral > 0n)
    await f.market.connect(provider).addBalance(provider.address, proposal.providerCollateral);
  const dealId = await f.market.nextDealId();
  const signature = await signProposal(f.market, client, proposal);
  await (
    await f.market
      .connect(provider)
      .publishStorageDeals([{ proposal, providerSignature: "0x", clientSignature: signature }])
  ).wait();
  expect(await f.market.nextDealId()).to.equal(dealId + 1n);
  return { dealId, proposal };
}

/** Zero-piece answers for every draw: what a provider holding only zeros can send. */
async function zeroAnswers(f: MarketFixture, dataSetId: bigint, termsHash: string, log2Leaves: number) {
  const answers: PieceProofStruct[] = [];
  for (let draw = 0n; draw < 5n; draw++) {
    const [, offset] = await f.market.challengedPiece(dataSetId, draw);
    const proof = zeroPieceProof(log2Leaves, Number(offset));
    answers.push({
      termsHash,
      leaf: ethers.hexlify(proof.leaf),
      siblings: proof.siblings.map((s) => ethers.hexlify(s)),
    });
  }
  return answers;
}

/** Settles `deal` and returns what the provider was paid. */
async function settledPayment(f: MarketFixture, deal: PublishedDeal): Promise<bigint> {
  const [payment] = await f.market.settleDeals.staticCall([deal.dealId], [deal.proposal]);
  await (await f.market.settleDeals([deal.dealId], [deal.proposal])).wait();
  return payment;
}

describe("StorageMarket: what an attacker tries", () => {
  it("a provider that frees a huge self-deal range still cannot prove a client piece it never received", async () => {
    const f = await deployMarket();
    // The client's deal: the provider never receives these bytes (its prover does not hold them).
    const [clientDeal] = await publishDeals(f, [makePiece(3000)]);
    const clientSet = (await f.market.dealInfo(clientDeal.dealId)).dataSetId;
    // A free self-deal of the largest size, declared lost at once (5 % of 0 collateral).
    const self = await publishZeroDeal(f, f.provider, f.provider, MAX_LOG2_LEAVES);
    const selfSet = (await f.market.dealInfo(self.dealId)).dataSetId;
    expect(selfSet, "a self-deal joins the provider's own data set, not the client's").to.not.equal(clientSet);
    await f.market.connect(f.provider).declareFaults([self.dealId], [self.proposal]);

    for (let period = 0; period < 2; period++) {
      await advanceToChallengeWindow(f.market, clientSet);
      // Every draw of the client's set lands in the client's piece; no freed range exists there.
      for (let draw = 0n; draw < 80n; draw++) {
        expect((await f.market.challengedPiece(clientSet, draw)).dealId).to.equal(clientDeal.dealId);
      }
      const empties = Array.from({ length: 80 }, () => EMPTY_ANSWER);
      await expect(f.market.connect(f.provider).provePossession(clientSet, empties))
        .to.be.revertedWithCustomError(f.market, "InvalidMerkleProof")
        .withArgs(0n, clientDeal.dealId);
      const zeros = await zeroAnswers(f, clientSet, await f.market.termsHash(self.proposal), 7);
      await expect(f.market.connect(f.provider).provePossession(clientSet, zeros)).to.be.revertedWithCustomError(
        f.market,
        "InvalidMerkleProof",
      );
      await advanceToNextPeriod(f.market, clientSet);
    }
    const info = await f.market.dealInfo(clientDeal.dealId);
    expect(info.state).to.equal(STATE.Faulted);
    expect(await settledPayment(f, clientDeal), "the client paid for an unproven period").to.equal(0n);
    await expectFundsConserved(f, f.accounts);
  });

  it("a provider that keeps only the zero padding of a half-full piece never passes a period", async () => {
    const f = await deployMarket();
    // 1,017 payload bytes pad to 2,048: 33 of the piece's 64 leaves hold client data, 31 are
    // zero padding whose paths the provider can keep for the cost of a few hashes.
    const piece = makePiece(1017);
    expect(piece.commitment.paddedSize).to.equal(2048);
    const [clientDeal] = await publishDeals(f, [piece]);
    const set = (await f.market.dealInfo(clientDeal.dealId)).dataSetId;
    const dataLeaves = payloadLeaves(clientDeal.proposal.payloadSize);
    expect(dataLeaves).to.equal(33n);
    expect((await f.market.dataSetInfo(set)).liveLeaves).to.equal(dataLeaves);
    // What the provider kept: the real path of every padding leaf, built before it dropped the
    // payload (with challenges over all 64 leaves, each draw would pass with probability 31/64).
    const termsHash = await f.market.termsHash(clientDeal.proposal);
    const paddingAnswer = async (offset: number): Promise<PieceProofStruct> => {
      const proof = await proveLeaf(
        async (start, length) => piece.payload.subarray(start, start + length),
        piece.payload.length,
        offset,
        piece.cache,
      );
      return { termsHash, leaf: ethers.hexlify(proof.leaf), siblings: proof.siblings.map((x) => ethers.hexlify(x)) };
    };
    for (let period = 0; period < 2; period++) {
      await advanceToChallengeWindow(f.market, set);
      for (let draw = 0n; draw < 80n; draw++) {
        const [dealId, offset] = await f.market.challengedPiece(set, draw);
        expect(dealId).to.equal(clientDeal.dealId);
        expect(offset < dataLeaves, `draw ${draw} landed in padding leaf ${offset}`).to.equal(true);
      }
      // Its best answers, padding paths, prove nothing at the drawn offsets.
      const answers = await Promise.all([33, 40, 47, 55, 63].map(paddingAnswer));
      await expect(f.market.connect(f.provider).provePossession(set, answers))
        .to.be.revertedWithCustomError(f.market, "InvalidMerkleProof")
        .withArgs(0n, clientDeal.dealId);
      await advanceToNextPeriod(f.market, set);
    }
    expect((await f.market.dealInfo(clientDeal.dealId)).state).to.equal(STATE.Faulted);
    expect(await settledPayment(f, clientDeal), "the client paid for an unproven period").to.equal(0n);
    await expectFundsConserved(f, f.accounts);
  });

  it("an all-zero self-deal of 64 GiB does not dilute a client's challenges", async () => {
    const f = await deployMarket();
    const [clientDeal] = await publishDeals(f, [makePiece(500)]);
    const clientSet = (await f.market.dealInfo(clientDeal.dealId)).dataSetId;
    const zero = await publishZeroDeal(f, f.provider, f.provider, MAX_LOG2_LEAVES);
    const zeroSet = (await f.market.dealInfo(zero.dealId)).dataSetId;
    expect((await f.market.dataSetInfo(clientSet)).liveLeaves).to.equal(payloadLeaves(clientDeal.proposal.payloadSize));

    await advanceToChallengeWindow(f.market, clientSet);
    // The zero set proves itself without storing anything (it only holds the provider's own zeros)…
    await advanceToChallengeWindow(f.market, zeroSet);
    const zeroProof = await zeroAnswers(f, zeroSet, await f.market.termsHash(zero.proposal), MAX_LOG2_LEAVES);
    await expect(f.market.connect(f.provider).provePossession(zeroSet, zeroProof)).to.emit(
      f.market,
      "PossessionProven",
    );
    // …but the client's set is drawn only over the client's piece, and zeros do not prove it.
    const zeros = await zeroAnswers(f, clientSet, await f.market.termsHash(clientDeal.proposal), 4);
    await expect(f.market.connect(f.provider).provePossession(clientSet, zeros)).to.be.revertedWithCustomError(
      f.market,
      "InvalidMerkleProof",
    );
    await new TestProver(f.market, f.provider).track(clientDeal).prove(clientSet);
  });

  it("a provider that never proved cannot declare late to pay 5 % instead of the whole collateral", async () => {
    const f = await deployMarket();
    const now = BigInt(await ethers.provider.getBlockNumber());
    // Starts right after period 0: the activation deadline is the end of period 1.
    const [deal] = await publishDeals(f, [makePiece(900)], { fields: { startEpoch: now + PERIOD + 4n } });
    const set = (await f.market.dealInfo(deal.dealId)).dataSetId;
    await advanceToNextPeriod(f.market, set);
    await advanceToNextPeriod(f.market, set); // period 2: the deal missed its activation
    const collateral = deal.proposal.providerCollateral;
    await expect(f.market.connect(f.provider).declareFaults([deal.dealId], [deal.proposal]))
      .to.emit(f.market, "DealClosed")
      .withArgs(deal.dealId, CLOSE.NotActivated, clientLock(deal.proposal), 0n, collateral, 0n);
    await expectFundsConserved(f, f.accounts);
  });

  it("settling an ended deal while the provider's proof is pending does not invalidate it", async () => {
    const f = await deployMarket();
    const now = BigInt(await ethers.provider.getBlockNumber());
    // A: 1024 leaves, ends one epoch after it starts; B: 4 leaves, runs on. A dominates the draws.
    const [a] = await publishDeals(f, [makePiece(127 * 256)], {
      fields: { startEpoch: now + 3n * PERIOD, endEpoch: now + 3n * PERIOD + 1n },
    });
    const [b] = await publishDeals(f, [makePiece(100)]);
    const set = (await f.market.dealInfo(b.dealId)).dataSetId;
    const prover = new TestProver(f.market, f.provider).track(a, b);
    while (BigInt(await ethers.provider.getBlockNumber()) < a.proposal.endEpoch + PERIOD) {
      await advanceToChallengeWindow(f.market, set);
      await prover.prove(set);
      await advanceToNextPeriod(f.market, set);
    }
    expect((await f.market.dealInfo(a.dealId)).state, "an ended, unsettled deal reads Expired").to.equal(STATE.Expired);
    await advanceToChallengeWindow(f.market, set);
    const pending = await prover.buildProofs(set);
    const drawsInA = (await Promise.all(pending.map((_, i) => f.market.challengedPiece(set, BigInt(i))))).filter(
      (d) => d.dealId === a.dealId,
    ).length;
    expect(drawsInA, "the test needs the pending proof to answer draws in A").to.be.greaterThan(0);

    // The attacker's settle lands first: A closes, but its piece stays drawable this window.
    const settle = f.market.connect(f.reporter).settleDeals([a.dealId], [a.proposal]);
    await expect(settle).to.emit(f.market, "DealClosed");
    await expect(settle).to.not.emit(f.market, "PieceRemoved");
    expect((await f.market.dealInfo(a.dealId)).state).to.equal(STATE.Expired);
    expect((await f.market.dataSetInfo(set)).pendingRemovals).to.equal(1n);
    // A proof built after the settle is the same proof: A's piece is still drawn (and still
    // held) until the window ends.
    expect(await prover.buildProofs(set)).to.deep.equal(pending);

    // The proof built before the settle still stands, and then A leaves the tree.
    const tx = f.market.connect(f.provider).provePossession(set, pending);
    await expect(tx).to.emit(f.market, "PossessionProven");
    await expect(tx).to.emit(f.market, "PieceRemoved").withArgs(set, a.dealId, 1n);
    expect((await f.market.dataSetInfo(set)).liveLeaves).to.equal(4n);
    await expectFundsConserved(f, f.accounts);
  });

  it("a provider reporting its own missed periods earns no bounty and no share of its slashed collateral", async () => {
    const f = await deployMarket();
    const [deal] = await publishDeals(f, [makePiece(2000)]);
    const set = (await f.market.dealInfo(deal.dealId)).dataSetId;
    await f.market.connect(f.provider).addBalance(f.provider.address, ethers.parseEther("1"));
    await mine(3n * PERIOD);
    const freeBefore = (await f.market.balanceOf(f.provider.address))[0];
    for (let i = 0; i < 3; i++) {
      await expect(f.market.connect(f.provider).reportFault(set))
        .to.emit(f.market, "FaultRecorded")
        .withArgs(set, f.provider.address, BigInt(i), BigInt(i + 1), f.provider.address, 0n);
    }
    expect((await f.market.balanceOf(f.provider.address))[0]).to.equal(freeBefore);
    const collateral = deal.proposal.providerCollateral;
    await expect(f.market.settleDeals([deal.dealId], [deal.proposal]))
      .to.emit(f.market, "DealClosed")
      .withArgs(deal.dealId, CLOSE.DataSetFailed, clientLock(deal.proposal), 0n, collateral, 0n);
    expect((await f.market.balanceOf(f.provider.address))[0]).to.equal(freeBefore);
    await expectFundsConserved(f, f.accounts);
  });

  it("a client wallet that burns gas in isValidSignature cannot sink the provider's batch", async () => {
    const f = await deployMarket();
    const burner = await ethers.deployContract("GasBurningWalletMock");
    const burnerAddress = await burner.getAddress();
    const bad = await makeProposal({ client: burnerAddress, provider: f.provider.address });
    await f.market.connect(f.client).addBalance(burnerAddress, clientLock(bad));
    const good = await makeProposal({ client: f.client.address, provider: f.provider.address });
    await f.market.connect(f.client).addBalance(f.client.address, clientLock(good));
    await f.market.connect(f.provider).addBalance(f.provider.address, bad.providerCollateral + good.providerCollateral);
    const batch = [
      { proposal: bad, providerSignature: "0x", clientSignature: await signProposal(f.market, f.client, bad) },
      { proposal: good, providerSignature: "0x", clientSignature: await signProposal(f.market, f.client, good) },
    ];
    // 60,000 gas for the hostile wallet, the rest of the batch goes through in 1,000,000.
    const tx = await f.market.connect(f.provider).publishStorageDeals(batch, { gasLimit: 1_000_000 });
    const receipt = await tx.wait();
    expect(receipt?.status).to.equal(1);
    await expect(tx)
      .to.emit(f.market, "DealProposalSkipped")
      .withArgs(0n, burnerAddress, f.provider.address, bad.nonce, 2n);
    await expect(tx).to.emit(f.market, "DealPublished");
    expect(receipt?.gasUsed ?? 0n).to.be.lessThan(500_000n);
    await expectFundsConserved(f, [...f.accounts, burnerAddress]);
  });

  it("a client piece cannot be proven from another client's data set or by another provider", async () => {
    const f = await deployMarket();
    const [mine_] = await publishDeals(f, [makePiece(1000)]);
    const [theirs] = await publishDeals(f, [makePiece(1000)], { client: f.other });
    const mySet = (await f.market.dealInfo(mine_.dealId)).dataSetId;
    const theirSet = (await f.market.dealInfo(theirs.dealId)).dataSetId;
    expect(mySet).to.not.equal(theirSet);
    await advanceToChallengeWindow(f.market, mySet);
    await advanceToChallengeWindow(f.market, theirSet);
    // Proofs of the other client's piece do not open this client's set.
    const foreign = await new TestProver(f.market, f.provider).track(theirs).buildProofs(theirSet);
    await expect(f.market.connect(f.provider).provePossession(mySet, foreign)).to.be.revertedWithCustomError(
      f.market,
      "InvalidMerkleProof",
    );
    // Each set is proven on its own; missing one faults only that client's deal.
    await new TestProver(f.market, f.provider).track(theirs).prove(theirSet);
    await advanceToNextPeriod(f.market, mySet);
    expect((await f.market.dealInfo(mine_.dealId)).state).to.equal(STATE.Faulted);
    expect((await f.market.dealInfo(theirs.dealId)).state).to.equal(STATE.Active);
  });
});

describe("StorageMarket: extendStorageDeal (renewal)", () => {
  async function withProvenDeal() {
    const f = await deployMarket();
    const [deal] = await publishDeals(f, [makePiece(1500)]);
    const set = (await f.market.dealInfo(deal.dealId)).dataSetId;
    const prover = new TestProver(f.market, f.provider).track(deal);
    await advanceToChallengeWindow(f.market, set);
    await prover.prove(set);
    return { ...f, deal, set, prover };
  }

  /** `from` (default the provider) sends `extended`, signed by `signature`, to renew `current`. */
  function extend(
    f: MarketFixture & { deal: PublishedDeal },
    current: StorageDealProposal,
    extended: StorageDealProposal,
    signature: string,
    from = f.provider,
  ) {
    return f.market
      .connect(from)
      .extendStorageDeal(f.deal.dealId, current, extended.endEpoch, extended.nonce, signature);
  }

  async function extension(f: MarketFixture, deal: PublishedDeal, extraEpochs: bigint, nonce?: bigint) {
    const extended = {
      ...deal.proposal,
      endEpoch: deal.proposal.endEpoch + extraEpochs,
      nonce: nonce ?? deal.proposal.nonce + 1_000_000n,
    };
    return { extended, signature: await signProposal(f.market, f.client, extended) };
  }

  it("lengthens the deal, locks the extra price, keeps the piece in its data set and pays through the new end", async () => {
    const f = await withProvenDeal();
    const extra = 3n * PERIOD;
    const { extended, signature } = await extension(f, f.deal, extra);
    const price = f.deal.proposal.storagePricePerEpoch;
    await f.market.connect(f.client).addBalance(f.client.address, price * extra);
    const [freeBefore, lockedBefore] = await f.market.balanceOf(f.client.address);
    await expect(extend(f, f.deal.proposal, extended, signature))
      .to.emit(f.market, "DealExtended")
      .withArgs(f.deal.dealId, f.deal.proposal.endEpoch, extended.endEpoch, price * extra, extended.nonce);
    expect(await f.market.balanceOf(f.client.address)).to.deep.equal([
      freeBefore - price * extra,
      lockedBefore + price * extra,
    ]);
    const info = await f.market.dealInfo(f.deal.dealId);
    expect([info.endEpoch, info.dataSetId, info.pieceIndex]).to.deep.equal([extended.endEpoch, f.set, 1n]);
    expect(await f.market.isDealProposal(f.deal.dealId, extended)).to.equal(true);
    expect(await f.market.isDealProposal(f.deal.dealId, f.deal.proposal)).to.equal(false);
    // Proofs now carry the new terms hash; the old proposal no longer settles the deal.
    const renewed = { ...f.deal, proposal: extended };
    const prover = new TestProver(f.market, f.provider).track(renewed);
    while (BigInt(await ethers.provider.getBlockNumber()) < extended.endEpoch + PERIOD) {
      await advanceToNextPeriod(f.market, f.set);
      await advanceToChallengeWindow(f.market, f.set);
      if (!(await f.market.dataSetInfo(f.set)).current) break;
      await prover.prove(f.set);
    }
    await expect(f.market.settleDeals([f.deal.dealId], [f.deal.proposal])).to.be.revertedWithCustomError(
      f.market,
      "DealKeyMismatch",
    );
    const tx = f.market.settleDeals([f.deal.dealId], [extended]);
    await expect(tx).to.emit(f.market, "DealClosed");
    await expectFundsConserved(f, f.accounts);
  });

  it("refuses what a provider or a third party would try: other terms, a replayed nonce, a forged signature, an ended deal", async () => {
    const f = await withProvenDeal();
    const price = f.deal.proposal.storagePricePerEpoch;
    await f.market.connect(f.client).addBalance(f.client.address, price * 100n * PERIOD);
    const { extended, signature } = await extension(f, f.deal, PERIOD);
    // Only the deal's provider sends it.
    await expect(extend(f, f.deal.proposal, extended, signature, f.other))
      .to.be.revertedWithCustomError(f.market, "NotDealProvider")
      .withArgs(f.deal.dealId, f.other.address);
    // A cheaper price, less collateral, another piece or less payload is not an extension, even
    // when the client signed it: only the end and the nonce come from the call, the rest from the
    // deal's own terms, so the signature does not hold for what the contract rebuilds.
    for (const change of [
      { storagePricePerEpoch: price - 1n },
      { providerCollateral: 0n },
      { pieceCid: ethers.ZeroHash as `0x${string}` },
      { payloadSize: f.deal.proposal.payloadSize - 1n },
    ]) {
      const other = { ...extended, ...change };
      await expect(
        extend(f, f.deal.proposal, other, await signProposal(f.market, f.client, other)),
      ).to.be.revertedWithCustomError(f.market, "InvalidClientSignature");
    }
    // Not past the market's maximum duration.
    const tooLong = await extension(f, f.deal, (await f.market.marketParams()).maxDealDurationEpochs);
    await expect(extend(f, f.deal.proposal, tooLong.extended, tooLong.signature)).to.be.revertedWithCustomError(
      f.market,
      "InvalidExtension",
    );
    // Not later.
    const shorter = await extension(f, f.deal, 0n);
    await expect(extend(f, f.deal.proposal, shorter.extended, shorter.signature)).to.be.revertedWithCustomError(
      f.market,
      "InvalidExtension",
    );
    // Signed by someone else.
    const forged = await signProposal(f.market, f.other, extended);
    await expect(extend(f, f.deal.proposal, extended, forged))
      .to.be.revertedWithCustomError(f.market, "InvalidClientSignature")
      .withArgs(f.deal.dealId, f.client.address);
    // The original nonce (or any used one) cannot sign an extension.
    const replay = await extension(f, f.deal, PERIOD, f.deal.proposal.nonce);
    await expect(extend(f, f.deal.proposal, replay.extended, replay.signature))
      .to.be.revertedWithCustomError(f.market, "NonceAlreadyUsed")
      .withArgs(f.client.address, f.deal.proposal.nonce);
    // It works once; the same signed extension replayed then fails on the deal's new key.
    await extend(f, f.deal.proposal, extended, signature);
    await expect(extend(f, f.deal.proposal, extended, signature)).to.be.revertedWithCustomError(
      f.market,
      "DealKeyMismatch",
    );
    // An ended deal cannot be renewed.
    const now = BigInt(await ethers.provider.getBlockNumber());
    await mine(extended.endEpoch - now);
    const late = await extension(f, { ...f.deal, proposal: extended }, PERIOD);
    await expect(extend(f, extended, late.extended, late.signature)).to.be.revertedWithCustomError(
      f.market,
      "DealEnded",
    );
    await expectFundsConserved(f, f.accounts);
  });
});
