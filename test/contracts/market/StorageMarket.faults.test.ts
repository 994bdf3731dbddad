import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, mine } from "@nomicfoundation/hardhat-network-helpers";
import {
  PERIOD,
  TEST_PARAMS,
  advanceToChallengeWindow,
  advanceToNextPeriod,
  clientLock,
  deployMarket,
  expectFundsConserved,
  makePiece,
  publishDeals,
  payloadLeaves,
} from "../helpers/market";
import { TestProver } from "../helpers/prover";

const CLOSE = { Expired: 0n, FaultDeclared: 1n, DataSetFailed: 2n, NotActivated: 3n };
/** The fixture's deals are the first of a fresh market: data set 1. */
const SET = 1n;
const STATE = { Published: 1n, Active: 2n, Faulted: 3n, Terminated: 4n, Expired: 5n };

describe("StorageMarket: faults", () => {
  async function withDeals() {
    const f = await deployMarket();
    const deals = await publishDeals(f, [makePiece(2000), makePiece(4000)]);
    const prover = new TestProver(f.market, f.provider).track(...deals);
    return { ...f, deals, prover };
  }

  describe("declareFaults", () => {
    it("terminates the deal, pays the client the penalty and takes its piece out of the data set", async () => {
      const f = await loadFixture(withDeals);
      const [deal] = f.deals;
      const collateral = deal.proposal.providerCollateral;
      const penalty = (collateral * 500n) / 10_000n;
      const tx = f.market.connect(f.provider).declareFaults([deal.dealId], [deal.proposal]);
      await expect(tx)
        .to.emit(f.market, "DealClosed")
        .withArgs(deal.dealId, CLOSE.FaultDeclared, clientLock(deal.proposal), collateral - penalty, penalty, 0n);
      await expect(tx).to.emit(f.market, "PieceRemoved").withArgs(SET, deal.dealId, 1n);
      expect((await f.market.dealInfo(deal.dealId)).state).to.equal(STATE.Terminated);
      const other = f.deals[1];
      expect(await f.market.balanceOf(f.client.address)).to.deep.equal([
        clientLock(deal.proposal) + penalty,
        clientLock(other.proposal),
      ]);
      expect(await f.market.balanceOf(f.provider.address)).to.deep.equal([
        collateral - penalty,
        other.proposal.providerCollateral,
      ]);
      expect((await f.market.dataSetInfo(SET)).liveLeaves).to.equal(payloadLeaves(other.proposal.payloadSize));
      await expectFundsConserved(f, f.accounts);
    });

    it("pays for the periods proven before the declaration", async () => {
      const f = await deployMarket();
      const now = BigInt(await ethers.provider.getBlockNumber());
      // Starts early in period 1 (funding and publishing mine 3 blocks) so proven periods are paid.
      const [deal] = await publishDeals(f, [makePiece(500)], { fields: { startEpoch: now + PERIOD + 5n } });
      const prover = new TestProver(f.market, f.provider).track(deal);
      const anchor = (await f.market.dataSetInfo(SET)).anchorEpoch;
      for (let i = 0; i < 3; i++) {
        await advanceToChallengeWindow(f.market, f.provider.address);
        await prover.prove();
        await advanceToNextPeriod(f.market, f.provider.address);
      }
      // Periods 0..2 proven; the deal is paid from its start to the end of period 2.
      const paidEpochs = anchor + 3n * PERIOD - deal.proposal.startEpoch;
      const payment = paidEpochs * deal.proposal.storagePricePerEpoch;
      await expect(f.market.connect(f.provider).declareFaults([deal.dealId], [deal.proposal]))
        .to.emit(f.market, "DealSettled")
        .withArgs(deal.dealId, f.provider.address, payment, anchor + 3n * PERIOD);
      await expectFundsConserved(f, f.accounts);
    });

    it("ends the data set when its last piece is declared", async () => {
      const f = await loadFixture(withDeals);
      await f.market.connect(f.provider).declareFaults(
        f.deals.map((d) => d.dealId),
        f.deals.map((d) => d.proposal),
      );
      const set = await f.market.dataSetInfo(SET);
      expect(set.current).to.equal(false);
      expect(set.liveLeaves).to.equal(0n);
      expect(await f.market.dataSetOf(f.provider.address, f.client.address)).to.equal(0n);
      await expect(f.market.connect(f.provider).provePossession(SET, []))
        .to.be.revertedWithCustomError(f.market, "NoDataSet")
        .withArgs(SET);
    });

    it("reverts after the challenge epoch", async () => {
      const f = await loadFixture(withDeals);
      const set = await f.market.dataSetInfo(SET);
      await advanceToChallengeWindow(f.market, f.provider.address);
      const [deal] = f.deals;
      await expect(f.market.connect(f.provider).declareFaults([deal.dealId], [deal.proposal]))
        .to.be.revertedWithCustomError(f.market, "DeclarationTooLate")
        .withArgs(deal.dealId, set.challengeEpoch, set.challengeEpoch + 2n);
    });

    it("reverts for another provider's deal", async () => {
      const f = await loadFixture(withDeals);
      const [deal] = f.deals;
      await expect(f.market.connect(f.provider2).declareFaults([deal.dealId], [deal.proposal]))
        .to.be.revertedWithCustomError(f.market, "NotDealProvider")
        .withArgs(deal.dealId, f.provider2.address);
    });

    it("reverts for a deal already closed", async () => {
      const f = await loadFixture(withDeals);
      const [deal] = f.deals;
      await f.market.connect(f.provider).declareFaults([deal.dealId], [deal.proposal]);
      await expect(f.market.connect(f.provider).declareFaults([deal.dealId], [deal.proposal]))
        .to.be.revertedWithCustomError(f.market, "DealNotOpen")
        .withArgs(deal.dealId);
    });

    it("reverts for a proposal that is not the deal's", async () => {
      const f = await loadFixture(withDeals);
      const [deal, other] = f.deals;
      await expect(f.market.connect(f.provider).declareFaults([deal.dealId], [other.proposal]))
        .to.be.revertedWithCustomError(f.market, "DealKeyMismatch")
        .withArgs(deal.dealId);
    });

    it("reverts for an unknown deal and for mismatched arrays", async () => {
      const f = await loadFixture(withDeals);
      const [deal] = f.deals;
      await expect(f.market.connect(f.provider).declareFaults([42n], [deal.proposal]))
        .to.be.revertedWithCustomError(f.market, "DealNotFound")
        .withArgs(42n);
      await expect(f.market.connect(f.provider).declareFaults([deal.dealId], []))
        .to.be.revertedWithCustomError(f.market, "LengthMismatch")
        .withArgs(1n, 0n);
    });

    it("reverts once the data set has failed, also after the pair started a new one", async () => {
      const f = await loadFixture(withDeals);
      const [deal] = f.deals;
      await mine(3n * PERIOD);
      await expect(f.market.connect(f.provider).declareFaults([deal.dealId], [deal.proposal]))
        .to.be.revertedWithCustomError(f.market, "DataSetHasFailed")
        .withArgs(SET);
      await publishDeals(f, [makePiece(100)]);
      await expect(f.market.connect(f.provider).declareFaults([deal.dealId], [deal.proposal]))
        .to.be.revertedWithCustomError(f.market, "DataSetHasFailed")
        .withArgs(SET);
    });
  });

  describe("reportFault", () => {
    it("records a missed period and pays the reporter from the provider's free balance", async () => {
      const f = await loadFixture(withDeals);
      await f.market.connect(f.provider).addBalance(f.provider.address, ethers.parseEther("1"));
      await advanceToNextPeriod(f.market, f.provider.address);
      const bounty = BigInt(TEST_PARAMS.faultReportBounty);
      await expect(f.market.connect(f.reporter).reportFault(SET))
        .to.emit(f.market, "FaultRecorded")
        .withArgs(SET, f.provider.address, 0n, 1n, f.reporter.address, bounty);
      expect((await f.market.balanceOf(f.reporter.address))[0]).to.equal(bounty);
      expect((await f.market.dealInfo(f.deals[0].dealId)).state).to.equal(STATE.Faulted);
      expect((await f.market.dealInfo(f.deals[0].dealId)).consecutiveFaults).to.equal(1n);
      await expectFundsConserved(f, f.accounts);
    });

    it("caps the bounty at the provider's free balance", async () => {
      const f = await loadFixture(withDeals);
      await advanceToNextPeriod(f.market, f.provider.address);
      await expect(f.market.connect(f.reporter).reportFault(SET))
        .to.emit(f.market, "FaultRecorded")
        .withArgs(SET, f.provider.address, 0n, 1n, f.reporter.address, 0n);
    });

    it("reverts when no period has passed unproven", async () => {
      const f = await loadFixture(withDeals);
      const set = await f.market.dataSetInfo(SET);
      await expect(f.market.connect(f.reporter).reportFault(SET))
        .to.be.revertedWithCustomError(f.market, "NoFaultToReport")
        .withArgs(SET, 0n, set.deadlineEpoch);
      await advanceToChallengeWindow(f.market, f.provider.address);
      await f.prover.prove();
      await advanceToNextPeriod(f.market, f.provider.address);
      await expect(f.market.connect(f.reporter).reportFault(SET))
        .to.be.revertedWithCustomError(f.market, "NoFaultToReport")
        .withArgs(SET, 1n, set.deadlineEpoch + PERIOD);
    });

    it("reverts for a data set that does not exist", async () => {
      const f = await loadFixture(withDeals);
      await expect(f.market.reportFault(7n)).to.be.revertedWithCustomError(f.market, "NoDataSet").withArgs(7n);
    });

    it("fails the set on the third report and reverts on a fourth", async () => {
      const f = await loadFixture(withDeals);
      await mine(3n * PERIOD);
      const anchor = (await f.market.dataSetInfo(SET)).anchorEpoch;
      await f.market.connect(f.reporter).reportFault(SET);
      await f.market.connect(f.reporter).reportFault(SET);
      const tx = f.market.connect(f.reporter).reportFault(SET);
      await expect(tx)
        .to.emit(f.market, "FaultRecorded")
        .withArgs(SET, f.provider.address, 2n, 3n, f.reporter.address, 0n);
      await expect(tx)
        .to.emit(f.market, "DataSetFailed")
        .withArgs(SET, f.provider.address, anchor + 3n * PERIOD);
      await expect(f.market.connect(f.reporter).reportFault(SET))
        .to.be.revertedWithCustomError(f.market, "DataSetHasFailed")
        .withArgs(SET);
      expect((await f.market.dealInfo(f.deals[0].dealId)).state).to.equal(STATE.Terminated);
      expect((await f.market.dataSetInfo(SET)).failed).to.equal(true);
    });

    it("stops counting once the provider proves again", async () => {
      const f = await loadFixture(withDeals);
      await advanceToNextPeriod(f.market, f.provider.address);
      await f.market.connect(f.reporter).reportFault(SET);
      await advanceToChallengeWindow(f.market, f.provider.address);
      await f.prover.prove();
      expect((await f.market.dealInfo(f.deals[0].dealId)).state).to.equal(STATE.Active);
      expect((await f.market.dataSetInfo(SET)).consecutiveFaults).to.equal(0n);
    });
  });

  describe("slashing after the set fails", () => {
    it("gives the reporter its bounty share and the client the rest, refunding unpaid storage", async () => {
      const f = await loadFixture(withDeals);
      await mine(3n * PERIOD);
      for (let i = 0; i < 3; i++) await f.market.connect(f.reporter).reportFault(SET);
      const [deal] = f.deals;
      const collateral = deal.proposal.providerCollateral;
      const bounty = (collateral * 1000n) / 10_000n;
      const reporterBefore = (await f.market.balanceOf(f.reporter.address))[0];
      await expect(f.market.settleDeals([deal.dealId], [deal.proposal]))
        .to.emit(f.market, "DealClosed")
        .withArgs(deal.dealId, CLOSE.DataSetFailed, clientLock(deal.proposal), 0n, collateral - bounty, bounty);
      expect((await f.market.balanceOf(f.reporter.address))[0] - reporterBefore).to.equal(bounty);
      await expectFundsConserved(f, f.accounts);
    });

    it("gives the whole collateral to the client when nobody reported", async () => {
      const f = await loadFixture(withDeals);
      await mine(3n * PERIOD);
      const [, deal] = f.deals;
      const collateral = deal.proposal.providerCollateral;
      await expect(f.market.settleDeals([deal.dealId], [deal.proposal]))
        .to.emit(f.market, "DealClosed")
        .withArgs(deal.dealId, CLOSE.DataSetFailed, clientLock(deal.proposal), 0n, collateral, 0n);
      await expectFundsConserved(f, f.accounts);
    });

    it("starts a fresh data set for the pair's next deal", async () => {
      const f = await loadFixture(withDeals);
      await mine(3n * PERIOD);
      const [fresh] = await publishDeals(f, [makePiece(300)]);
      const info = await f.market.dealInfo(fresh.dealId);
      expect(info.dataSetId).to.equal(SET + 1n);
      expect(info.pieceIndex).to.equal(1n);
      const set = await f.market.dataSetInfo(SET + 1n);
      expect(set.failed).to.equal(false);
      expect(set.current).to.equal(true);
      expect((await f.market.dataSetInfo(SET)).failed).to.equal(true);
      await advanceToChallengeWindow(f.market, SET + 1n);
      await new TestProver(f.market, f.provider).track(fresh).prove(SET + 1n);
    });
  });
});
