import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import {
  PRICE,
  deployRepair,
  eventArgs,
  expectRepairFundsConserved,
  makeFile,
  makeRepairDeal,
  postBid,
  signAuthorization,
  signWorkerConsent,
  type RepairFixture,
} from "../helpers/repair";

/**
 * The views agents read instead of old logs (real endpoints keep logs for a bounded window):
 * a miner's newest ask, the deals of a droot and of a miner, page by page, and the record counts.
 */
describe("RepairMarket: views that replace log scans", () => {
  async function fixture() {
    return deployRepair();
  }

  /** A second miner (owner other, worker reporter) with one ask; returns its ids. */
  async function secondMiner(f: RepairFixture): Promise<{ minerId: bigint; askId: bigint }> {
    const [owner, worker] = [f.other, f.reporter];
    const consent = await signWorkerConsent(f.repair, worker, owner.address);
    const created = await (
      await f.repair.connect(owner).createRepairMiner(worker.address, ethers.parseEther("10"), "http://m2", consent)
    ).wait();
    const minerId = eventArgs(f.repair, created, "RepairMinerCreated").minerId as bigint;
    const expiry = BigInt(await ethers.provider.getBlockNumber()) + 10_000n;
    const added = await (await f.repair.connect(worker).addRepairAsk(minerId, PRICE, 1n << 30n, expiry)).wait();
    return { minerId, askId: eventArgs(f.repair, added, "RepairAskAdded").askId as bigint };
  }

  describe("latestAskOf", () => {
    it("is 0 for a miner without asks and follows each miner's newest ask", async () => {
      const f = await loadFixture(fixture);
      expect(await f.repair.latestAskOf(99n)).to.equal(0n);
      expect(await f.repair.latestAskOf(f.minerId)).to.equal(f.askId);
      const second = await secondMiner(f);
      const expiry = BigInt(await ethers.provider.getBlockNumber()) + 500n;
      const renewed = await (await f.repair.connect(f.worker).addRepairAsk(f.minerId, PRICE, 1n << 20n, expiry)).wait();
      const newest = eventArgs(f.repair, renewed, "RepairAskAdded").askId as bigint;
      expect(await f.repair.latestAskOf(f.minerId)).to.equal(newest);
      // Another miner's asks never move this miner's pointer.
      expect(await f.repair.latestAskOf(second.minerId)).to.equal(second.askId);
      expect((await f.repair.getAsk(newest)).minerId).to.equal(f.minerId);
    });
  });

  describe("dealsOfDroot and dealsOfMiner", () => {
    it("list every deal of a droot and of a miner, oldest first, in pages, with the total", async () => {
      const f = await loadFixture(fixture);
      const file = makeFile(2, 1);
      const first = await makeRepairDeal(f, file);
      const other = await makeRepairDeal(f, makeFile(2, 1));
      const second = await makeRepairDeal(f, file);
      const [total, all] = await f.repair.dealsOfDroot(file.droot.root, 0n, 10n);
      expect(total).to.equal(2n);
      expect(all).to.deep.equal([first, second]);
      expect((await f.repair.dealsOfDroot(file.droot.root, 1n, 10n))[1]).to.deep.equal([second]);
      expect((await f.repair.dealsOfDroot(file.droot.root, 0n, 1n))[1]).to.deep.equal([first]);
      expect((await f.repair.dealsOfDroot(file.droot.root, 2n, 10n))[1]).to.deep.equal([]);
      expect((await f.repair.dealsOfDroot(file.droot.root, 2n ** 255n, 2n ** 255n))[1]).to.deep.equal([]);
      expect(await f.repair.dealsOfDroot(ethers.ZeroHash, 0n, 10n)).to.deep.equal([0n, []]);
      const [minerTotal, mine] = await f.repair.dealsOfMiner(f.minerId, 0n, 10n);
      expect(minerTotal).to.equal(3n);
      expect(mine).to.deep.equal([first, other, second]);
      expect(await f.repair.counts()).to.deep.equal([1n, 1n, 3n, 3n]);
    });

    it("a stranger's deals for a client's droot are listed beside the client's, never instead of them, and move no funds", async () => {
      const f = await loadFixture(fixture);
      const file = makeFile(2, 1);
      const honest = await makeRepairDeal(f, file);
      // The attacker runs its own miner and bids for the same droot from its own account.
      const attacker = await secondMiner(f);
      const bidId = await postBid(f, file, { client: f.other });
      const deadline = BigInt(await ethers.provider.getBlockNumber()) + 100n;
      const signature = await signAuthorization(f.repair, f.other, {
        bidId,
        askId: attacker.askId,
        minerId: attacker.minerId,
        deadline,
      });
      const made = await (
        await f.repair.connect(f.reporter).addDeal(attacker.askId, bidId, deadline, signature)
      ).wait();
      const spam = eventArgs(f.repair, made, "RepairDealCreated").dealId as bigint;
      const [, ids] = await f.repair.dealsOfDroot(file.droot.root, 0n, 10n);
      expect(ids).to.deep.equal([honest, spam]);
      // Each deal names its own client and miner: a reader keeps the ones it trusts.
      expect((await f.repair.getDeal(honest)).client).to.equal(f.client.address);
      expect((await f.repair.getDeal(spam)).client).to.equal(f.other.address);
      expect((await f.repair.dealsOfMiner(f.minerId, 0n, 10n))[1]).to.deep.equal([honest]);
      expect((await f.repair.dealsOfMiner(attacker.minerId, 0n, 10n))[1]).to.deep.equal([spam]);
      await expectRepairFundsConserved(f, [f.client.address, f.other.address, f.owner.address]);
    });
  });
});
