import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { TEST_PARAMS, deployMarket, expectFundsConserved } from "../helpers/market";

describe("StorageMarket: construction and escrow", () => {
  async function fixture() {
    return deployMarket();
  }

  describe("constructor", () => {
    const cases: [string, Record<string, bigint | number>, bigint][] = [
      ["provingPeriodEpochs", { provingPeriodEpochs: 1n }, 1n],
      ["challengeWindowEpochs", { challengeWindowEpochs: 0n }, 0n],
      ["challengeWindowEpochs", { challengeWindowEpochs: 20n }, 20n],
      ["challengeWindowEpochs", { provingPeriodEpochs: 1000n, challengeWindowEpochs: 241n }, 241n],
      ["challengesPerProof", { challengesPerProof: 0 }, 0n],
      ["challengesPerProof", { challengesPerProof: 17 }, 17n],
      ["maxConsecutiveFaults", { maxConsecutiveFaults: 0 }, 0n],
      ["maxConsecutiveFaults", { maxConsecutiveFaults: 201 }, 201n],
      ["declaredFaultPenaltyBps", { declaredFaultPenaltyBps: 10_001 }, 10_001n],
      ["reporterBountyBps", { reporterBountyBps: 10_001 }, 10_001n],
      ["maxDealDurationEpochs", { maxDealDurationEpochs: 0n }, 0n],
    ];
    for (const [name, override, value] of cases) {
      it(`reverts when ${name} is ${value}`, async () => {
        const token = await ethers.deployContract("PaymentToken", ["T", "T", 1n]);
        const factory = await ethers.getContractFactory("StorageMarket");
        await expect(factory.deploy(await token.getAddress(), { ...TEST_PARAMS, ...override }))
          .to.be.revertedWithCustomError(factory, "InvalidMarketParams")
          .withArgs(name, value);
      });
    }

    it("exposes its token and parameters", async () => {
      const { market, token } = await loadFixture(fixture);
      expect(await market.token()).to.equal(await token.getAddress());
      const params = await market.marketParams();
      expect(params.provingPeriodEpochs).to.equal(TEST_PARAMS.provingPeriodEpochs);
      expect(params.challengeWindowEpochs).to.equal(TEST_PARAMS.challengeWindowEpochs);
      expect(params.challengesPerProof).to.equal(TEST_PARAMS.challengesPerProof);
      expect(params.maxConsecutiveFaults).to.equal(TEST_PARAMS.maxConsecutiveFaults);
      expect(params.declaredFaultPenaltyBps).to.equal(TEST_PARAMS.declaredFaultPenaltyBps);
      expect(params.reporterBountyBps).to.equal(TEST_PARAMS.reporterBountyBps);
      expect(params.faultReportBounty).to.equal(TEST_PARAMS.faultReportBounty);
      expect(params.maxDealDurationEpochs).to.equal(TEST_PARAMS.maxDealDurationEpochs);
      expect(await market.nextDealId()).to.equal(1n);
    });
  });

  describe("addBalance", () => {
    it("credits the named account from the caller's tokens", async () => {
      const f = await loadFixture(fixture);
      const amount = ethers.parseEther("5");
      const tx = f.market.connect(f.client).addBalance(f.provider.address, amount);
      await expect(tx).to.emit(f.market, "BalanceAdded").withArgs(f.provider.address, f.client.address, amount);
      await expect(tx).to.changeTokenBalances(f.token, [f.client, f.market], [-amount, amount]);
      expect(await f.market.balanceOf(f.provider.address)).to.deep.equal([amount, 0n]);
      await expectFundsConserved(f, f.accounts);
    });

    it("reverts on a zero amount", async () => {
      const f = await loadFixture(fixture);
      await expect(f.market.connect(f.client).addBalance(f.client.address, 0)).to.be.revertedWithCustomError(
        f.market,
        "ZeroAmount",
      );
    });

    it("reverts when the token transfer fails", async () => {
      const f = await loadFixture(fixture);
      await f.token.connect(f.client).approve(await f.market.getAddress(), 1n);
      await expect(f.market.connect(f.client).addBalance(f.client.address, 2n))
        .to.be.revertedWithCustomError(f.token, "ERC20InsufficientAllowance")
        .withArgs(await f.market.getAddress(), 1n, 2n);
    });

    it("reverts when a balance would exceed 2^128 - 1", async () => {
      const token = await ethers.deployContract("PaymentToken", ["T", "T", 2n ** 129n]);
      const market = await ethers.deployContract("StorageMarket", [await token.getAddress(), TEST_PARAMS]);
      const [deployer] = await ethers.getSigners();
      await token.approve(await market.getAddress(), ethers.MaxUint256);
      await market.addBalance(deployer.address, 2n ** 128n - 1n);
      await expect(market.addBalance(deployer.address, 1n))
        .to.be.revertedWithCustomError(market, "AmountTooLarge")
        .withArgs(1n);
    });
  });

  describe("withdrawBalance", () => {
    it("sends free balance to the caller", async () => {
      const f = await loadFixture(fixture);
      await f.market.connect(f.client).addBalance(f.client.address, 100n);
      const tx = f.market.connect(f.client).withdrawBalance(60n);
      await expect(tx).to.emit(f.market, "BalanceWithdrawn").withArgs(f.client.address, 60n);
      await expect(tx).to.changeTokenBalances(f.token, [f.client, f.market], [60n, -60n]);
      expect(await f.market.balanceOf(f.client.address)).to.deep.equal([40n, 0n]);
      await expectFundsConserved(f, f.accounts);
    });

    it("reverts on a zero amount", async () => {
      const f = await loadFixture(fixture);
      await expect(f.market.connect(f.client).withdrawBalance(0)).to.be.revertedWithCustomError(f.market, "ZeroAmount");
    });

    it("reverts beyond the free balance", async () => {
      const f = await loadFixture(fixture);
      await f.market.connect(f.client).addBalance(f.client.address, 100n);
      await expect(f.market.connect(f.client).withdrawBalance(101n))
        .to.be.revertedWithCustomError(f.market, "InsufficientBalance")
        .withArgs(f.client.address, 100n, 101n);
    });
  });
});
