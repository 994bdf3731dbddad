import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, mine } from "@nomicfoundation/hardhat-network-helpers";
import {
  PERIOD,
  advanceToChallengeWindow,
  advanceToNextPeriod,
  clientLock,
  deployMarket,
  expectFundsConserved,
  makePiece,
  publishDeals,
} from "../helpers/market";
import { TestProver } from "../helpers/prover";
import { provenEpochsModel } from "../helpers/model";

const CLOSE = { Expired: 0n, FaultDeclared: 1n, DataSetFailed: 2n, NotActivated: 3n };
const STATE = { Terminated: 4n, Expired: 5n };

describe("StorageMarket: settleDeals", () => {
  async function withDeal() {
    const f = await deployMarket();
    const now = BigInt(await ethers.provider.getBlockNumber());
    // Starts inside period 1 and runs 6 periods and a bit, so both ends are partial periods.
    const [deal] = await publishDeals(f, [makePiece(1500)], {
      fields: { startEpoch: now + PERIOD + 7n, endEpoch: now + 7n * PERIOD + 13n, storagePricePerEpoch: 12_345n },
    });
    const prover = new TestProver(f.market, f.provider).track(deal);
    const anchor = (await f.market.dataSetInfo(1n)).anchorEpoch;
    return { ...f, deal, prover, anchor };
  }

  it("pays exactly for the epochs of proven periods, whatever the settlement times", async () => {
    const f = await loadFixture(withDeal);
    const { deal, anchor } = f;
    const proven = new Set<bigint>();
    // Prove some periods, miss others (never three in a row), settling at assorted moments.
    const plan = [true, true, false, true, false, false, true, true];
    let settledUpTo = deal.proposal.startEpoch;
    let paidTotal = 0n;
    for (let period = 0n; period < BigInt(plan.length); period++) {
      if (plan[Number(period)]) {
        await advanceToChallengeWindow(f.market, f.provider.address);
        await f.prover.prove();
        proven.add(period);
      }
      if (period % 2n === 1n) {
        const [payment] = await f.market.settleDeals.staticCall([deal.dealId], [deal.proposal]);
        const set = await f.market.dataSetInfo(1n);
        const resolved = anchor + (set.currentPeriodProven ? set.currentPeriod + 1n : set.currentPeriod) * PERIOD;
        const upTo = resolved < deal.proposal.endEpoch ? resolved : deal.proposal.endEpoch;
        const expected =
          deal.proposal.storagePricePerEpoch * provenEpochsModel(anchor, PERIOD, proven, settledUpTo, upTo);
        expect(payment, `settling in period ${period}`).to.equal(expected);
        await f.market.settleDeals([deal.dealId], [deal.proposal]);
        if (upTo > settledUpTo) settledUpTo = upTo;
        paidTotal += expected;
        await expectFundsConserved(f, f.accounts);
      }
      await advanceToNextPeriod(f.market, f.provider.address);
    }
    expect((await f.market.dealInfo(deal.dealId)).state).to.equal(STATE.Expired);
    const lifetime =
      deal.proposal.storagePricePerEpoch *
      provenEpochsModel(anchor, PERIOD, proven, deal.proposal.startEpoch, deal.proposal.endEpoch);
    expect(paidTotal).to.equal(lifetime);
    expect(paidTotal).to.be.greaterThan(0n);
  });

  it("pays nothing twice when settled again in the same period", async () => {
    const f = await loadFixture(withDeal);
    for (let i = 0; i < 3; i++) {
      await advanceToChallengeWindow(f.market, f.provider.address);
      await f.prover.prove();
      await advanceToNextPeriod(f.market, f.provider.address);
    }
    const [first] = await f.market.settleDeals.staticCall([f.deal.dealId], [f.deal.proposal]);
    expect(first).to.be.greaterThan(0n);
    await f.market.settleDeals([f.deal.dealId], [f.deal.proposal]);
    const [second] = await f.market.settleDeals.staticCall([f.deal.dealId], [f.deal.proposal]);
    expect(second).to.equal(0n);
  });

  it("closes an ended deal: refunds the client's unspent lock, returns the collateral, frees the range", async () => {
    const f = await loadFixture(withDeal);
    const proven = new Set<bigint>();
    for (let period = 0n; period < 8n; period++) {
      await advanceToChallengeWindow(f.market, f.provider.address);
      await f.prover.prove();
      proven.add(period);
      await advanceToNextPeriod(f.market, f.provider.address);
    }
    const p = f.deal.proposal;
    const paid = p.storagePricePerEpoch * provenEpochsModel(f.anchor, PERIOD, proven, p.startEpoch, p.endEpoch);
    expect(paid).to.equal(p.storagePricePerEpoch * (p.endEpoch - p.startEpoch));
    const tx = f.market.settleDeals([f.deal.dealId], [p]);
    await expect(tx).to.emit(f.market, "DealSettled").withArgs(f.deal.dealId, f.provider.address, paid, p.endEpoch);
    await expect(tx)
      .to.emit(f.market, "DealClosed")
      .withArgs(f.deal.dealId, CLOSE.Expired, clientLock(p) - paid, p.providerCollateral, 0n, 0n);
    await expect(tx).to.emit(f.market, "PieceRemoved").withArgs(1n, f.deal.dealId, 1n);
    expect(await f.market.balanceOf(f.provider.address)).to.deep.equal([p.providerCollateral + paid, 0n]);
    expect(await f.market.balanceOf(f.client.address)).to.deep.equal([clientLock(p) - paid, 0n]);
    const set = await f.market.dataSetInfo(1n);
    expect(set.current).to.equal(false);
    expect(set.liveLeaves).to.equal(0n);
    await expectFundsConserved(f, f.accounts);
  });

  it("terminates a deal never proven before its start and slashes the provider to the client", async () => {
    const f = await loadFixture(withDeal);
    // Miss periods 0 and 1 (the deal starts in period 1), then prove period 2.
    await advanceToNextPeriod(f.market, f.provider.address);
    await advanceToNextPeriod(f.market, f.provider.address);
    await advanceToChallengeWindow(f.market, f.provider.address);
    await f.prover.prove();
    const p = f.deal.proposal;
    await expect(f.market.settleDeals([f.deal.dealId], [p]))
      .to.emit(f.market, "DealClosed")
      .withArgs(f.deal.dealId, CLOSE.NotActivated, clientLock(p), 0n, p.providerCollateral, 0n);
    expect((await f.market.dealInfo(f.deal.dealId)).state).to.equal(STATE.Terminated);
    await expectFundsConserved(f, f.accounts);
  });

  it("leaves an active deal open and unpaid before it starts", async () => {
    const f = await loadFixture(withDeal);
    await advanceToChallengeWindow(f.market, f.provider.address);
    await f.prover.prove();
    await expect(f.market.settleDeals([f.deal.dealId], [f.deal.proposal])).to.not.emit(f.market, "DealClosed");
    expect((await f.market.dealInfo(f.deal.dealId)).state).to.equal(2n);
  });

  it("reverts for mismatched arrays, unknown deals, wrong proposals and closed deals", async () => {
    const f = await loadFixture(withDeal);
    const p = f.deal.proposal;
    await expect(f.market.settleDeals([f.deal.dealId], []))
      .to.be.revertedWithCustomError(f.market, "LengthMismatch")
      .withArgs(1n, 0n);
    await expect(f.market.settleDeals([9n], [p]))
      .to.be.revertedWithCustomError(f.market, "DealNotFound")
      .withArgs(9n);
    await expect(f.market.settleDeals([f.deal.dealId], [{ ...p, label: "other" }]))
      .to.be.revertedWithCustomError(f.market, "DealKeyMismatch")
      .withArgs(f.deal.dealId);
    await mine(20n * PERIOD);
    await f.market.settleDeals([f.deal.dealId], [p]);
    await expect(f.market.settleDeals([f.deal.dealId], [p]))
      .to.be.revertedWithCustomError(f.market, "DealNotOpen")
      .withArgs(f.deal.dealId);
  });

  it("reports a deal's state through dealInfo", async () => {
    const f = await loadFixture(withDeal);
    await expect(f.market.dealInfo(77n)).to.be.revertedWithCustomError(f.market, "DealNotFound").withArgs(77n);
    const info = await f.market.dealInfo(f.deal.dealId);
    expect(info.state).to.equal(1n);
    expect(info.settledUpToEpoch).to.equal(0n);
  });
});
