import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, mine } from "@nomicfoundation/hardhat-network-helpers";
import {
  REPAIR_PARAMS,
  deployRepair,
  expectRepairFundsConserved,
  makeFile,
  makeRepairDeal,
  confirmPieces,
  mineUntilFaulted,
  placeFile,
  signWorkerConsent,
  storePiece,
} from "../helpers/repair";
import type { PublishedDeal } from "../helpers/market";
import { repairSlotLabel } from "../../../actors-ts/chain/repair-market/slot-label";
import type { Address } from "viem";

const WINDOW = BigInt(REPAIR_PARAMS.repairWindowEpochs);
const DEAL_STATE = { Placing: 1n, Active: 2n };

describe("RepairMarket: what an attacker tries", () => {
  async function withPlacedFile() {
    const f = await deployRepair();
    const file = makeFile();
    const dealId = await makeRepairDeal(f, file, 200n);
    const deal = await f.repair.getDeal(dealId);
    const stored = await placeFile(f, dealId, file);
    return { ...f, file, dealId, deal, stored };
  }

  /** As above with a term long enough for a loss, a repair window and more. */
  async function withLongDeal() {
    const f = await deployRepair();
    const file = makeFile();
    const dealId = await makeRepairDeal(f, file, 2000n);
    const deal = await f.repair.getDeal(dealId);
    const stored = await placeFile(f, dealId, file);
    const activatedAt = BigInt(await ethers.provider.getBlockNumber());
    return { ...f, file, dealId, deal, stored, activatedAt };
  }

  it("an attacker cannot create a miner around someone else's worker", async () => {
    const f = await loadFixture(withPlacedFile);
    const victim = f.worker.address;
    expect(await f.repair.minerOfWorker(victim)).to.equal(f.minerId);
    // Without the worker's consent…
    await expect(f.repair.connect(f.other).createRepairMiner(f.reporter.address, 0n, "http://thief", "0x"))
      .to.be.revertedWithCustomError(f.repair, "InvalidWorkerConsent")
      .withArgs(f.reporter.address);
    // …with a consent the worker gave another owner…
    const forOwner = await signWorkerConsent(f.repair, f.reporter, f.owner.address);
    await expect(f.repair.connect(f.other).createRepairMiner(f.reporter.address, 0n, "http://thief", forOwner))
      .to.be.revertedWithCustomError(f.repair, "InvalidWorkerConsent")
      .withArgs(f.reporter.address);
    // …and with a worker that already serves a miner, even when it signs for the attacker.
    const signed = await signWorkerConsent(f.repair, f.worker, f.other.address);
    await expect(f.repair.connect(f.other).createRepairMiner(victim, 0n, "http://thief", signed))
      .to.be.revertedWithCustomError(f.repair, "WorkerHasMiner")
      .withArgs(victim, f.minerId);
    await expect(f.repair.connect(f.worker).createRepairMiner(victim, 0n, "http://again", "0x"))
      .to.be.revertedWithCustomError(f.repair, "WorkerHasMiner")
      .withArgs(victim, f.minerId);
    // A worker that consents may serve a new owner's miner, once.
    const consent = await signWorkerConsent(f.repair, f.reporter, f.other.address);
    await expect(f.repair.connect(f.other).createRepairMiner(f.reporter.address, 0n, "http://m2", consent)).to.emit(
      f.repair,
      "RepairMinerCreated",
    );
    expect(await f.repair.minerOfWorker(f.reporter.address)).to.equal(f.minerId + 1n);
    await expectRepairFundsConserved(f, f.accounts);
  });

  it("nobody can report a loss or slash the miner once the term has ended", async () => {
    const f = await loadFixture(withPlacedFile);
    // The term runs out with every piece proven never: the storage deals read Faulted or worse.
    const now = BigInt(await ethers.provider.getBlockNumber());
    await mine(f.deal.endEpoch - now);
    const pledgeBefore = (await f.repair.getMiner(f.minerId)).pledge;
    for (let i = 0; i < 3; i++) {
      await expect(f.repair.connect(f.reporter).reportPieceLoss(f.dealId, i))
        .to.be.revertedWithCustomError(f.repair, "RepairDealEnded")
        .withArgs(f.dealId, f.deal.endEpoch);
      await expect(f.repair.connect(f.reporter).slashRepairMiner(f.dealId, i))
        .to.be.revertedWithCustomError(f.repair, "RepairDealEnded")
        .withArgs(f.dealId, f.deal.endEpoch);
    }
    expect((await f.repair.getMiner(f.minerId)).pledge).to.equal(pledgeBefore);
    // What remains is completing the deal.
    await expect(f.repair.connect(f.worker).claimEarnings([f.dealId])).to.emit(f.repair, "RepairDealCompleted");
    await expectRepairFundsConserved(f, f.accounts);
  });

  it("a slash for an unplaced slot does not spare that piece's first real loss", async () => {
    const f = await deployRepair();
    const file = makeFile();
    const dealId = await makeRepairDeal(f, file);
    const deal = await f.repair.getDeal(dealId);
    await mine(REPAIR_PARAMS.placementWindowEpochs);
    await expect(f.repair.connect(f.reporter).slashRepairMiner(dealId, 0)).to.emit(f.repair, "RepairMinerSlashed");
    // Placed late: the missed placement was slashed once, and assigning alone does not make it
    // slashable twice...
    const stored: PublishedDeal[] = [];
    for (let i = 0; i < 6; i++) {
      const storage = await storePiece(f, dealId, file, i, f.providers[i], deal.endEpoch);
      await f.repair.connect(f.worker).assignPiece(dealId, i, storage.dealId, storage.proposal, file.droot.proof(i));
      stored.push(storage);
    }
    await expect(f.repair.connect(f.reporter).slashRepairMiner(dealId, 0))
      .to.be.revertedWithCustomError(f.repair, "NothingToSlash")
      .withArgs(dealId, 0n);
    // ...confirming it clears the flag, so a later loss left unrepaired is slashable again.
    await confirmPieces(f, dealId, [0, 1, 2, 3, 4, 5], stored);
    expect((await f.repair.pieceSlot(dealId, 0)).slashed).to.equal(false);
    await mineUntilFaulted(f, [stored[0].dealId]);
    await f.repair.reportPieceLoss(dealId, 0);
    await mine(WINDOW);
    await expect(f.repair.connect(f.reporter).slashRepairMiner(dealId, 0)).to.emit(f.repair, "RepairMinerSlashed");
    await expectRepairFundsConserved(f, f.accounts);
  });

  it("junk placement: pieces on storage deals nobody proves never activate the deal or earn, and are slashed", async () => {
    const f = await deployRepair();
    const file = makeFile();
    const dealId = await makeRepairDeal(f, file);
    const deal = await f.repair.getDeal(dealId);
    for (let i = 0; i < 6; i++) {
      const storage = await storePiece(f, dealId, file, i, f.providers[i], deal.endEpoch);
      await f.repair.connect(f.worker).assignPiece(dealId, i, storage.dealId, storage.proposal, file.droot.proof(i));
    }
    const now = BigInt(await ethers.provider.getBlockNumber());
    await mine(deal.placementDeadline - now);
    expect((await f.repair.getDeal(dealId)).state).to.equal(DEAL_STATE.Placing);
    expect(await f.repair.claimableEarnings(dealId)).to.equal(0n);
    for (let i = 0; i < 6; i++) {
      await expect(f.repair.connect(f.reporter).confirmPiece(dealId, i)).to.be.revertedWithCustomError(
        f.repair,
        "StorageDealNotProven",
      );
      await expect(f.repair.connect(f.reporter).slashRepairMiner(dealId, i)).to.emit(f.repair, "RepairMinerSlashed");
    }
    const [earned] = await f.repair.claimEarnings.staticCall([dealId]);
    expect(earned).to.equal(0n);
    await expectRepairFundsConserved(f, f.accounts);
  });

  it("junk repairs: repairing onto deals that are never proven keeps the loss, its clock and the slash", async () => {
    const f = await loadFixture(withLongDeal);
    await mineUntilFaulted(f, [f.stored[2].dealId]);
    await f.repair.connect(f.reporter).reportPieceLoss(f.dealId, 2);
    const lostAt = BigInt(await ethers.provider.getBlockNumber());
    // Just before each window would end, the miner "repairs" onto a fresh deal at a provider that
    // never gets the bytes.
    for (const provider of [f.providers[6], f.providers[7]]) {
      const junk = await storePiece(f, f.dealId, f.file, 2, provider, f.deal.endEpoch);
      await f.repair.connect(f.worker).reassignPiece(f.dealId, 2, junk.dealId, junk.proposal, f.file.droot.proof(2));
      const slot = await f.repair.pieceSlot(f.dealId, 2);
      expect(slot.lostAtEpoch).to.equal(lostAt);
      expect(slot.confirmed).to.equal(false);
      expect(await f.repair.lostPieces(f.dealId)).to.equal(1n << 2n);
      await mine(WINDOW / 4n);
    }
    const now = BigInt(await ethers.provider.getBlockNumber());
    expect(now).to.be.lessThan(lostAt + WINDOW);
    await mine(lostAt + WINDOW - now);
    // Paid up to the window's end only, and slashable.
    const paid = (await f.repair.getDeal(f.dealId)).paidEpochs;
    await f.repair.claimEarnings([f.dealId]);
    const atWindowEnd = (await f.repair.getDeal(f.dealId)).paidEpochs;
    await mine(30);
    await f.repair.claimEarnings([f.dealId]);
    expect((await f.repair.getDeal(f.dealId)).paidEpochs).to.equal(atWindowEnd);
    expect(atWindowEnd).to.be.greaterThanOrEqual(paid);
    await expect(f.repair.connect(f.reporter).slashRepairMiner(f.dealId, 2)).to.emit(f.repair, "RepairMinerSlashed");
    await expectRepairFundsConserved(f, f.accounts);
  });

  it("a transient fault recovers without a new deal when the provider proves again", async () => {
    const f = await loadFixture(withLongDeal);
    const storage = f.stored[3];
    await mineUntilFaulted(f, [storage.dealId]);
    await f.repair.connect(f.reporter).reportPieceLoss(f.dealId, 3);
    const lostAt = BigInt(await ethers.provider.getBlockNumber());
    await expect(f.repair.connect(f.reporter).confirmPiece(f.dealId, 3))
      .to.be.revertedWithCustomError(f.repair, "StorageDealNotProven")
      .withArgs(storage.dealId, 3n);
    // The provider comes back and proves its data set; anyone confirms the piece.
    await confirmPieces(f, f.dealId, [3], [storage]);
    expect(BigInt(await ethers.provider.getBlockNumber())).to.be.lessThan(lostAt + WINDOW);
    const slot = await f.repair.pieceSlot(f.dealId, 3);
    expect(slot.storageDealId).to.equal(storage.dealId);
    expect(slot.lostAtEpoch).to.equal(0n);
    expect(await f.repair.lostPieces(f.dealId)).to.equal(0n);
    await mine(WINDOW);
    await expect(f.repair.connect(f.reporter).slashRepairMiner(f.dealId, 3))
      .to.be.revertedWithCustomError(f.repair, "NothingToSlash")
      .withArgs(f.dealId, 3n);
    // Earnings never stopped: every epoch since activation is paid.
    await f.repair.claimEarnings([f.dealId]);
    const deal = await f.repair.getDeal(f.dealId);
    expect(deal.accruedUpTo).to.equal(BigInt(await ethers.provider.getBlockNumber()));
    expect(deal.paidEpochs).to.equal(deal.accruedUpTo - f.activatedAt);
    await expectRepairFundsConserved(f, f.accounts);
  });

  it("the loss bounty: paid once per piece to the first third-party reporter, never to the miner itself", async () => {
    const f = await loadFixture(withLongDeal);
    const dealPledge = (await f.repair.getDeal(f.dealId)).size * BigInt(REPAIR_PARAMS.pledgePerByte);
    const bounty = (dealPledge * BigInt(REPAIR_PARAMS.lossReportBountyBps)) / 10_000n;
    expect(bounty).to.be.greaterThan(0n);
    // A report of a loss that is not real reverts and pays nothing.
    await expect(f.repair.connect(f.reporter).reportPieceLoss(f.dealId, 0)).to.be.revertedWithCustomError(
      f.repair,
      "StorageDealHealthy",
    );
    await mineUntilFaulted(
      f,
      [0, 1].map((i) => f.stored[i].dealId),
    );
    const pledge0 = (await f.repair.getMiner(f.minerId)).pledge;
    // The miner's worker reporting its own loss earns nothing.
    await expect(f.repair.connect(f.worker).reportPieceLoss(f.dealId, 0)).to.not.emit(f.repair, "LossReportBountyPaid");
    expect((await f.repair.getMiner(f.minerId)).pledge).to.equal(pledge0);
    expect(await f.repair.balanceOf(f.worker.address)).to.equal(0n);
    // A third party's first report of piece 1 earns the bounty from the pledge.
    await expect(f.repair.connect(f.reporter).reportPieceLoss(f.dealId, 1))
      .to.emit(f.repair, "LossReportBountyPaid")
      .withArgs(f.dealId, 1n, f.reporter.address, bounty);
    expect((await f.repair.getMiner(f.minerId)).pledge).to.equal(pledge0 - bounty);
    expect(await f.repair.balanceOf(f.reporter.address)).to.equal(bounty);
    // Piece 1 recovers and faults again: its second loss earns nobody a bounty.
    await confirmPieces(f, f.dealId, [1], [f.stored[1]]);
    await mineUntilFaulted(f, [f.stored[1].dealId]);
    await expect(f.repair.connect(f.other).reportPieceLoss(f.dealId, 1))
      .to.emit(f.repair, "PieceLost")
      .and.to.not.emit(f.repair, "LossReportBountyPaid");
    expect(await f.repair.balanceOf(f.other.address)).to.equal(0n);
    await expectRepairFundsConserved(f, f.accounts);
  });

  it("the loss bounty: the miner's owner reporting its own loss earns nothing either", async () => {
    const f = await loadFixture(withLongDeal);
    await mineUntilFaulted(f, [f.stored[0].dealId]);
    const pledge = (await f.repair.getMiner(f.minerId)).pledge;
    await expect(f.repair.connect(f.owner).reportPieceLoss(f.dealId, 0))
      .to.emit(f.repair, "PieceLost")
      .and.to.not.emit(f.repair, "LossReportBountyPaid");
    expect((await f.repair.getMiner(f.minerId)).pledge).to.equal(pledge);
    expect(await f.repair.balanceOf(f.owner.address)).to.equal(0n);
    await expectRepairFundsConserved(f, f.accounts);
  });

  it("confirmations stop at the end of the term", async () => {
    const f = await loadFixture(withPlacedFile);
    await mineUntilFaulted(f, [f.stored[0].dealId]);
    await f.repair.reportPieceLoss(f.dealId, 0);
    await mine(f.deal.endEpoch - BigInt(await ethers.provider.getBlockNumber()));
    await expect(f.repair.confirmPiece(f.dealId, 0))
      .to.be.revertedWithCustomError(f.repair, "RepairDealEnded")
      .withArgs(f.dealId, f.deal.endEpoch);
  });

  it("a storage deal made for one repair slot cannot be claimed by another deal or RepairMarket", async () => {
    const f = await deployRepair();
    const file = makeFile();
    // Two repair deals of the same miner for the same file: same droot, same pieces.
    const dealA = await makeRepairDeal(f, file);
    const dealB = await makeRepairDeal(f, file);
    const { endEpoch } = await f.repair.getDeal(dealB);
    const repairAddress = (await f.repair.getAddress()) as Address;
    expect(await f.repair.slotLabel(dealB, 4)).to.equal(repairSlotLabel(repairAddress, dealB, 4));
    const forA = await storePiece(f, dealA, file, 0, f.providers[0], endEpoch);
    const proof = file.droot.proof(0);
    const expectMismatch = (deal: PublishedDeal, into: bigint) =>
      expect(f.repair.connect(f.worker).assignPiece(into, 0, deal.dealId, deal.proposal, proof))
        .to.be.revertedWithCustomError(f.repair, "StorageDealLabelMismatch")
        .withArgs(deal.dealId, repairSlotLabel(repairAddress, into, 0));
    // Deal A's storage deal cannot fill deal B's slot…
    await expectMismatch(forA, dealB);
    // …nor can a deal labelled for another RepairMarket, with the address in another case, or
    // with free text.
    const other = ethers.Wallet.createRandom().address as Address;
    for (const [p, label] of [
      [1, repairSlotLabel(other, dealB, 0)],
      [2, repairSlotLabel(repairAddress, dealB, 0).replace(repairAddress.toLowerCase(), repairAddress)],
      [3, file.pieces[0].pieceCid],
    ] as const) {
      const stray = await storePiece(f, dealB, file, 0, f.providers[p], endEpoch, label);
      await expectMismatch(stray, dealB);
    }
    // Each deal takes its own.
    await f.repair.connect(f.worker).assignPiece(dealA, 0, forA.dealId, forA.proposal, proof);
    const forB = await storePiece(f, dealB, file, 0, f.providers[1], endEpoch);
    await f.repair.connect(f.worker).assignPiece(dealB, 0, forB.dealId, forB.proposal, proof);
    // The repair path checks the label too: after B's piece 0 is lost, a fresh deal made for A's
    // slot cannot repair it.
    await mineUntilFaulted(f, [forB.dealId]);
    await f.repair.connect(f.reporter).reportPieceLoss(dealB, 0);
    const freshForA = await storePiece(f, dealA, file, 0, f.providers[4], endEpoch);
    await expect(f.repair.connect(f.worker).reassignPiece(dealB, 0, freshForA.dealId, freshForA.proposal, proof))
      .to.be.revertedWithCustomError(f.repair, "StorageDealLabelMismatch")
      .withArgs(freshForA.dealId, repairSlotLabel(repairAddress, dealB, 0));
    const freshForB = await storePiece(f, dealB, file, 0, f.providers[5], endEpoch);
    await expect(
      f.repair.connect(f.worker).reassignPiece(dealB, 0, freshForB.dealId, freshForB.proposal, proof),
    ).to.emit(f.repair, "PieceRepaired");
    await expectRepairFundsConserved(f, f.accounts);
  });
});
