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
  storePiece,
} from "../helpers/repair";

const WINDOW = BigInt(REPAIR_PARAMS.repairWindowEpochs);

describe("RepairMarket: earnings", () => {
  async function withPlacedFile() {
    const f = await deployRepair();
    const file = makeFile();
    const dealId = await makeRepairDeal(f, file, 2000n);
    const stored = await placeFile(f, dealId, file);
    const activatedAt = BigInt(await ethers.provider.getBlockNumber());
    const deal = await f.repair.getDeal(dealId);
    const duration = deal.endEpoch - deal.startEpoch;
    const earned = (epochs: bigint) => (deal.amount * epochs) / duration;
    return { ...f, file, dealId, stored, activatedAt, deal, earned };
  }

  /** Claims in a transaction and returns what it paid (from its EarningsClaimed event). */
  async function claim(f: Awaited<ReturnType<typeof withPlacedFile>>): Promise<bigint> {
    const receipt = await (await f.repair.claimEarnings([f.dealId])).wait();
    for (const log of receipt?.logs ?? []) {
      const event = f.repair.interface.parseLog(log);
      if (event?.name === "EarningsClaimed") return event.args.amount as bigint;
    }
    return 0n;
  }

  it("pays nothing for the epochs spent placing pieces", async () => {
    const f = await deployRepair();
    const dealId = await makeRepairDeal(f, makeFile());
    await mine(30);
    expect(await f.repair.claimableEarnings(dealId)).to.equal(0n);
    const [amount] = await f.repair.claimEarnings.staticCall([dealId]);
    expect(amount).to.equal(0n);
  });

  it("pays in proportion to the epochs the file was fully placed", async () => {
    const f = await loadFixture(withPlacedFile);
    await mine(99);
    // The claim is mined 100 epochs after activation.
    expect(await f.repair.claimableEarnings(f.dealId)).to.equal(f.earned(99n));
    const expected = f.earned(100n);
    await expect(f.repair.claimEarnings([f.dealId]))
      .to.emit(f.repair, "EarningsClaimed")
      .withArgs(f.dealId, f.minerId, expected);
    expect(await f.repair.balanceOf(f.owner.address)).to.equal(expected);
    await mine(49);
    expect(await claim(f)).to.equal(f.earned(150n) - expected);
    await expectRepairFundsConserved(f, f.accounts);
  });

  it("stops paying a repair window after a loss and resumes once the repair is confirmed", async () => {
    const f = await loadFixture(withPlacedFile);
    await mineUntilFaulted(f, [f.stored[1].dealId]);
    await f.repair.reportPieceLoss(f.dealId, 1);
    const lostAt = BigInt(await ethers.provider.getBlockNumber());
    await mine(WINDOW + 30n);
    const paidBeforeRepair = lostAt + WINDOW - f.activatedAt;
    expect(await claim(f)).to.equal(f.earned(paidBeforeRepair));
    const fresh = await storePiece(f, f.dealId, f.file, 1, f.providers[6], f.deal.endEpoch);
    await f.repair.connect(f.worker).reassignPiece(f.dealId, 1, fresh.dealId, fresh.proposal, f.file.droot.proof(1));
    // Reassigned but not yet proven: still nothing.
    await mine(5);
    expect(await claim(f)).to.equal(0n);
    await confirmPieces(f, f.dealId, [1], [fresh]);
    const confirmedAt = BigInt(await ethers.provider.getBlockNumber());
    await mine(19);
    expect(await claim(f)).to.equal(f.earned(paidBeforeRepair + 20n) - f.earned(paidBeforeRepair));
    expect((await f.repair.getDeal(f.dealId)).paidEpochs).to.equal(paidBeforeRepair + 20n);
    expect(confirmedAt).to.be.greaterThan(lostAt + WINDOW);
    await expectRepairFundsConserved(f, f.accounts);
  });

  it("keeps paying through a repair confirmed within the window", async () => {
    const f = await loadFixture(withPlacedFile);
    await mineUntilFaulted(f, [f.stored[4].dealId]);
    await f.repair.reportPieceLoss(f.dealId, 4);
    const lostAt = BigInt(await ethers.provider.getBlockNumber());
    const fresh = await storePiece(f, f.dealId, f.file, 4, f.providers[7], f.deal.endEpoch);
    await f.repair.connect(f.worker).reassignPiece(f.dealId, 4, fresh.dealId, fresh.proposal, f.file.droot.proof(4));
    await confirmPieces(f, f.dealId, [4], [fresh]);
    expect(BigInt(await ethers.provider.getBlockNumber())).to.be.lessThan(lostAt + WINDOW);
    await mine(10);
    const now = BigInt(await ethers.provider.getBlockNumber()) + 1n;
    expect(await claim(f)).to.equal(f.earned(now - f.activatedAt));
  });

  it("completes the deal at its end: pays the rest earned, refunds the unearned, releases power", async () => {
    const f = await loadFixture(withPlacedFile);
    await mine(f.deal.endEpoch - BigInt(await ethers.provider.getBlockNumber()) + 5n);
    const earned = f.earned(f.deal.endEpoch - f.activatedAt);
    const refund = f.deal.amount - earned;
    const tx = f.repair.claimEarnings([f.dealId]);
    await expect(tx).to.emit(f.repair, "EarningsClaimed").withArgs(f.dealId, f.minerId, earned);
    await expect(tx).to.emit(f.repair, "RepairDealCompleted").withArgs(f.dealId, earned, refund);
    expect((await f.repair.getDeal(f.dealId)).state).to.equal(3n);
    expect(await f.repair.balanceOf(f.client.address)).to.equal(refund);
    expect((await f.repair.getMiner(f.minerId)).powerBytes).to.equal(0n);
    const [again] = await f.repair.claimEarnings.staticCall([f.dealId]);
    expect(again).to.equal(0n);
    await expectRepairFundsConserved(f, f.accounts);
  });

  it("reverts for an unknown deal", async () => {
    const f = await loadFixture(withPlacedFile);
    await expect(f.repair.claimEarnings([f.dealId, 77n]))
      .to.be.revertedWithCustomError(f.repair, "DealNotFound")
      .withArgs(77n);
  });

  describe("withdraw", () => {
    it("sends withdrawable funds and refuses more than there is", async () => {
      const f = await loadFixture(withPlacedFile);
      await mine(50);
      await f.repair.claimEarnings([f.dealId]);
      const balance = await f.repair.balanceOf(f.owner.address);
      await expect(f.repair.connect(f.owner).withdraw(balance + 1n))
        .to.be.revertedWithCustomError(f.repair, "InsufficientBalance")
        .withArgs(f.owner.address, balance, balance + 1n);
      await expect(f.repair.connect(f.owner).withdraw(0n)).to.be.revertedWithCustomError(f.repair, "ZeroAmount");
      const tx = f.repair.connect(f.owner).withdraw(balance);
      await expect(tx).to.emit(f.repair, "Withdrawn").withArgs(f.owner.address, balance);
      await expect(tx).to.changeTokenBalances(f.token, [f.owner, f.repair], [balance, -balance]);
      await expectRepairFundsConserved(f, f.accounts);
    });
  });
});
