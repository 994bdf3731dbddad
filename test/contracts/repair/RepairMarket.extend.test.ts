import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, mine } from "@nomicfoundation/hardhat-network-helpers";
import { PERIOD } from "../helpers/market";
import { TestProver } from "../helpers/prover";
import {
  PIECE_PAYLOAD,
  PRICE,
  REPAIR_PARAMS,
  deployRepair,
  eventArgs,
  expectRepairFundsConserved,
  makeFile,
  makeRepairDeal,
  placeFile,
  signWorkerConsent,
  storePiece,
} from "../helpers/repair";

const WINDOW = BigInt(REPAIR_PARAMS.repairWindowEpochs);
const MAX_DURATION = BigInt(REPAIR_PARAMS.maxDealDurationEpochs);
const STORAGE_EXPIRED = 5n;

describe("RepairMarket: extendRepairDeal (renewal)", () => {
  async function withPlacedFile() {
    const f = await deployRepair();
    const file = makeFile();
    const dealId = await makeRepairDeal(f, file, 400n);
    const stored = await placeFile(f, dealId, file);
    const deal = await f.repair.getDeal(dealId);
    const size = BigInt(file.pieces.length) * PIECE_PAYLOAD;
    return { ...f, file, dealId, stored, deal, size };
  }

  it("moves the end out and locks price · size · extra epochs from the client, at the deal's price", async () => {
    const f = await loadFixture(withPlacedFile);
    const extra = 1000n;
    const cost = PRICE * f.size * extra;
    const before = await f.token.balanceOf(f.client.address);
    await expect(f.repair.connect(f.client).extendRepairDeal(f.dealId, f.askId, extra))
      .to.emit(f.repair, "RepairDealExtended")
      .withArgs(f.dealId, f.askId, f.deal.endEpoch, f.deal.endEpoch + extra, cost);
    expect(before - (await f.token.balanceOf(f.client.address))).to.equal(cost);
    const after = await f.repair.getDeal(f.dealId);
    expect(after.endEpoch).to.equal(f.deal.endEpoch + extra);
    expect(after.amount).to.equal(f.deal.amount + cost);
    expect(after.startEpoch).to.equal(f.deal.startEpoch);
    await expectRepairFundsConserved(f, f.accounts);
  });

  it("keeps what the miner earned so far, and pays the new epochs at the same rate", async () => {
    const f = await loadFixture(withPlacedFile);
    await mine(50);
    const earnedBefore = await f.repair.claimableEarnings(f.dealId);
    expect(earnedBefore).to.be.greaterThan(0n);
    await f.repair.connect(f.client).extendRepairDeal(f.dealId, f.askId, 600n);
    // The extension's own block is one more paid epoch: price · size for it, nothing else moved.
    expect(await f.repair.claimableEarnings(f.dealId)).to.equal(earnedBefore + PRICE * f.size);
    await expectRepairFundsConserved(f, f.accounts);
  });

  it("at the new end every token of both terms is accounted for: the miner's earnings plus the client's refund", async () => {
    const f = await loadFixture(withPlacedFile);
    const activatedAt = BigInt(await ethers.provider.getBlockNumber());
    await f.repair.connect(f.client).extendRepairDeal(f.dealId, f.askId, 600n);
    const deal = await f.repair.getDeal(f.dealId);
    const now = BigInt(await ethers.provider.getBlockNumber());
    await mine(deal.endEpoch - now + 5n);
    const duration = deal.endEpoch - deal.startEpoch;
    // Paid from activation to the new end, at the deal's own rate; the placing epochs go back.
    const earned = (deal.amount * (deal.endEpoch - activatedAt)) / duration;
    const ownerBefore = await f.repair.balanceOf(f.owner.address);
    const clientBefore = await f.repair.balanceOf(f.client.address);
    await expect(f.repair.claimEarnings([f.dealId]))
      .to.emit(f.repair, "RepairDealCompleted")
      .withArgs(f.dealId, earned, deal.amount - earned);
    expect((await f.repair.balanceOf(f.owner.address)) - ownerBefore).to.equal(earned);
    expect((await f.repair.balanceOf(f.client.address)) - clientBefore).to.equal(deal.amount - earned);
    await expectRepairFundsConserved(f, f.accounts);
  });

  it("refuses anyone but the deal's client: a third party, the miner's worker and its owner", async () => {
    const f = await loadFixture(withPlacedFile);
    for (const caller of [f.other, f.worker, f.owner]) {
      await expect(f.repair.connect(caller).extendRepairDeal(f.dealId, f.askId, 100n))
        .to.be.revertedWithCustomError(f.repair, "NotDealClient")
        .withArgs(f.dealId, caller.address);
    }
  });

  it("needs an ask of the deal's own miner that covers its price and size", async () => {
    const f = await loadFixture(withPlacedFile);
    const expiry = BigInt(await ethers.provider.getBlockNumber()) + 1000n;
    // A second miner's ask: the client cannot extend on somebody else's offer.
    const [otherOwner, otherWorker] = [f.providers[6], f.providers[7]];
    await f.repair
      .connect(otherOwner)
      .createRepairMiner(
        otherWorker.address,
        ethers.parseEther("10"),
        "http://127.0.0.1:9001",
        await signWorkerConsent(f.repair, otherWorker, otherOwner.address),
      );
    const foreignAsk = eventArgs(
      f.repair,
      await (await f.repair.connect(otherWorker).addRepairAsk(2n, PRICE, 1n << 30n, expiry)).wait(),
      "RepairAskAdded",
    ).askId as bigint;
    // The miner's own asks that do not cover the deal: dearer now, or too small.
    const dearer = eventArgs(
      f.repair,
      await (await f.repair.connect(f.worker).addRepairAsk(f.minerId, PRICE + 1n, 1n << 30n, expiry)).wait(),
      "RepairAskAdded",
    ).askId as bigint;
    const small = eventArgs(
      f.repair,
      await (await f.repair.connect(f.worker).addRepairAsk(f.minerId, PRICE, f.size - 1n, expiry)).wait(),
      "RepairAskAdded",
    ).askId as bigint;
    for (const askId of [foreignAsk, dearer, small]) {
      await expect(f.repair.connect(f.client).extendRepairDeal(f.dealId, askId, 100n))
        .to.be.revertedWithCustomError(f.repair, "AskDoesNotCoverBid")
        .withArgs(askId, f.deal.bidId);
    }
    // A cancelled ask, and one that never existed, are not active.
    await f.repair.connect(f.worker).cancelRepairAsk(f.askId);
    for (const askId of [f.askId, 999n]) {
      await expect(f.repair.connect(f.client).extendRepairDeal(f.dealId, askId, 100n))
        .to.be.revertedWithCustomError(f.repair, "AskNotActive")
        .withArgs(askId);
    }
    await expectRepairFundsConserved(f, f.accounts);
  });

  it("refuses an expired ask", async () => {
    const f = await loadFixture(withPlacedFile);
    const soon = BigInt(await ethers.provider.getBlockNumber()) + 5n;
    const askId = eventArgs(
      f.repair,
      await (await f.repair.connect(f.worker).addRepairAsk(f.minerId, PRICE, 1n << 30n, soon)).wait(),
      "RepairAskAdded",
    ).askId as bigint;
    await mine(10);
    await expect(f.repair.connect(f.client).extendRepairDeal(f.dealId, askId, 100n))
      .to.be.revertedWithCustomError(f.repair, "AskExpired")
      .withArgs(askId, soon);
  });

  it("refuses 0 extra epochs and a whole term past maxDealDurationEpochs", async () => {
    const f = await loadFixture(withPlacedFile);
    await expect(f.repair.connect(f.client).extendRepairDeal(f.dealId, f.askId, 0n))
      .to.be.revertedWithCustomError(f.repair, "InvalidDuration")
      .withArgs(0n);
    const room = MAX_DURATION - (f.deal.endEpoch - f.deal.startEpoch);
    await expect(f.repair.connect(f.client).extendRepairDeal(f.dealId, f.askId, room + 1n))
      .to.be.revertedWithCustomError(f.repair, "InvalidDuration")
      .withArgs(room + 1n);
    await f.repair.connect(f.client).extendRepairDeal(f.dealId, f.askId, room);
    expect((await f.repair.getDeal(f.dealId)).endEpoch).to.equal(f.deal.startEpoch + MAX_DURATION);
  });

  it("must come a repair window before the end, so the miner can carry it to the storage deals", async () => {
    const f = await loadFixture(withPlacedFile);
    const latest = f.deal.endEpoch - WINDOW;
    const now = BigInt(await ethers.provider.getBlockNumber());
    await mine(latest - now); // the next block is latest + 1
    await expect(f.repair.connect(f.client).extendRepairDeal(f.dealId, f.askId, 100n))
      .to.be.revertedWithCustomError(f.repair, "ExtensionTooLate")
      .withArgs(f.dealId, latest);
    await expectRepairFundsConserved(f, f.accounts);
  });

  it("cannot revive a lost file", async () => {
    const f = await deployRepair();
    const file = makeFile(2, 1);
    const dealId = await makeRepairDeal(f, file, 400n);
    const stored = await placeFile(f, dealId, file);
    // Nobody proves any more: two of three pieces terminate and are reported; the file is lost.
    const failedAt = BigInt(REPAIR_PARAMS.placementWindowEpochs) + 6n * PERIOD;
    await mine(failedAt);
    for (const index of [0, 1]) await f.repair.connect(f.reporter).reportPieceLoss(dealId, index);
    expect((await f.repair.getDeal(dealId)).state).to.equal(4n); // Lost
    await expect(f.repair.connect(f.client).extendRepairDeal(dealId, f.askId, 100n))
      .to.be.revertedWithCustomError(f.repair, "DealNotOpen")
      .withArgs(dealId, 4n);
    expect(stored.length).to.equal(3);
    await expectRepairFundsConserved(f, f.accounts);
  });

  it("makes later placements last to the new end", async () => {
    const f = await deployRepair();
    const file = makeFile();
    const dealId = await makeRepairDeal(f, file, 400n);
    const deal = await f.repair.getDeal(dealId);
    await f.repair.connect(f.client).extendRepairDeal(dealId, f.askId, 500n);
    const short = await storePiece(f, dealId, file, 0, f.providers[0], deal.endEpoch);
    await expect(f.repair.connect(f.worker).assignPiece(dealId, 0, short.dealId, short.proposal, file.droot.proof(0)))
      .to.be.revertedWithCustomError(f.repair, "StorageDealTooShort")
      .withArgs(short.dealId, deal.endEpoch, deal.endEpoch + 500n);
  });

  it("a storage deal the miner did not extend expires within the new term: anyone reports the piece lost", async () => {
    const f = await loadFixture(withPlacedFile);
    const held = f.stored[0];
    await expect(f.repair.connect(f.reporter).reportPieceLoss(f.dealId, 0))
      .to.be.revertedWithCustomError(f.repair, "StorageDealHealthy")
      .withArgs(held.dealId, 2n);
    await f.repair.connect(f.client).extendRepairDeal(f.dealId, f.askId, 1000n);
    // Provider 0 keeps proving until its storage deal runs out (the others may fail: only
    // piece 0 is reported), so the deal reads Expired, not Terminated.
    const prover = new TestProver(f.market, f.providers[0]).track(held);
    const info = await f.market.dealInfo(held.dealId);
    for (let guard = 0; (await f.market.dealInfo(held.dealId)).state !== STORAGE_EXPIRED; guard++) {
      if (guard > Number(info.endEpoch) + 4 * Number(PERIOD)) throw new Error("storage deal never expired");
      const set = await f.market.dataSetInfo(info.dataSetId);
      const now = BigInt(await ethers.provider.getBlockNumber());
      if (!set.currentPeriodProven && now > set.challengeEpoch && now + 1n <= set.deadlineEpoch)
        await prover.prove(info.dataSetId);
      else await mine(1);
    }
    expect((await f.repair.getDeal(f.dealId)).endEpoch).to.be.greaterThan(
      BigInt(await ethers.provider.getBlockNumber()),
    );
    await expect(f.repair.connect(f.reporter).reportPieceLoss(f.dealId, 0))
      .to.emit(f.repair, "PieceLost")
      .withArgs(f.dealId, 0, held.dealId, f.providers[0].address, f.reporter.address)
      .and.to.emit(f.repair, "LossReportBountyPaid");
    await expectRepairFundsConserved(f, f.accounts);
  });
});
