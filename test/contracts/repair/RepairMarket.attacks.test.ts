import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, mine } from "@nomicfoundation/hardhat-network-helpers";
import { PERIOD } from "../helpers/market";
import {
  REPAIR_PARAMS,
  deployRepair,
  expectRepairFundsConserved,
  makeFile,
  makeRepairDeal,
  placeFile,
  signWorkerConsent,
  storePiece,
} from "../helpers/repair";

describe("RepairMarket: what an attacker tries", () => {
  async function withPlacedFile() {
    const f = await deployRepair();
    const file = makeFile();
    const dealId = await makeRepairDeal(f, file, 200n);
    const deal = await f.repair.getDeal(dealId);
    const stored = await placeFile(f, dealId, file);
    return { ...f, file, dealId, deal, stored };
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
    // Placed late, then lost and left unrepaired past the repair window: slashable again.
    for (let i = 0; i < 6; i++) {
      const storage = await storePiece(f, file, i, f.providers[i], deal.endEpoch);
      await f.repair.connect(f.worker).assignPiece(dealId, i, storage.dealId, storage.proposal, file.droot.proof(i));
    }
    expect((await f.repair.pieceSlot(dealId, 0)).slashed).to.equal(false);
    await mine(PERIOD * 2n);
    await f.repair.reportPieceLoss(dealId, 0);
    await mine(REPAIR_PARAMS.repairWindowEpochs);
    await expect(f.repair.connect(f.reporter).slashRepairMiner(dealId, 0)).to.emit(f.repair, "RepairMinerSlashed");
    await expectRepairFundsConserved(f, f.accounts);
  });
});
