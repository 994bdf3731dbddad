import { expect } from "chai";
import { ethers } from "hardhat";
import { mine } from "@nomicfoundation/hardhat-network-helpers";
import { TEST_PARAMS } from "./helpers/market";
import { REPAIR_PARAMS } from "./helpers/repair";

/**
 * A token that calls back into the market in the middle of a transfer must not be able to make
 * a second payout: every function that moves tokens is guarded.
 */
describe("reentrancy through a token that calls back on transfer", () => {
  async function fixture() {
    const [deployer, user] = await ethers.getSigners();
    const token = await ethers.deployContract("ReentrantTokenMock", [ethers.parseEther("1000")]);
    const market = await ethers.deployContract("StorageMarket", [await token.getAddress(), TEST_PARAMS]);
    const repair = await ethers.deployContract("RepairMarket", [
      await token.getAddress(),
      await market.getAddress(),
      REPAIR_PARAMS,
    ]);
    const channels = await ethers.deployContract("PaymentChannels", [await token.getAddress(), 2n]);
    await token.transfer(user.address, ethers.parseEther("100"));
    for (const c of [market, repair, channels])
      await token.connect(user).approve(await c.getAddress(), ethers.MaxUint256);
    return { deployer, user, token, market, repair, channels };
  }

  it("StorageMarket.withdrawBalance cannot be re-entered", async () => {
    const { user, token, market } = await fixture();
    await market.connect(user).addBalance(user.address, 1000n);
    await token.arm(await market.getAddress(), market.interface.encodeFunctionData("withdrawBalance", [500n]));
    await expect(market.connect(user).withdrawBalance(500n)).to.be.revertedWithCustomError(
      market,
      "ReentrancyGuardReentrantCall",
    );
    expect(await market.balanceOf(user.address)).to.deep.equal([1000n, 0n]);
  });

  it("StorageMarket.addBalance cannot be re-entered", async () => {
    const { user, token, market } = await fixture();
    await token.arm(await market.getAddress(), market.interface.encodeFunctionData("withdrawBalance", [1n]));
    await expect(market.connect(user).addBalance(user.address, 10n)).to.be.revertedWithCustomError(
      market,
      "ReentrancyGuardReentrantCall",
    );
  });

  it("RepairMarket.withdraw cannot be re-entered", async () => {
    const { user, token, repair } = await fixture();
    await repair.connect(user).createRepairMiner(user.address, 1000n, "http://m", "0x");
    const expiry = BigInt(await ethers.provider.getBlockNumber()) + 100n;
    await repair
      .connect(user)
      .addBid(ethers.ZeroHash, 1n, 6n * 127n, 2n, expiry, { k: 4, m: 2, pieceSize: 128n, scheme: 0, d: 0 });
    await repair.connect(user).cancelBid(1n);
    const balance = await repair.balanceOf(user.address);
    await token.arm(await repair.getAddress(), repair.interface.encodeFunctionData("withdraw", [1n]));
    await expect(repair.connect(user).withdraw(balance)).to.be.revertedWithCustomError(
      repair,
      "ReentrancyGuardReentrantCall",
    );
    await token.arm(await repair.getAddress(), repair.interface.encodeFunctionData("withdrawPledge", [1n, 1n]));
    await expect(repair.connect(user).withdrawPledge(1n, 10n)).to.be.revertedWithCustomError(
      repair,
      "ReentrancyGuardReentrantCall",
    );
    expect(await repair.balanceOf(user.address)).to.equal(balance);
  });

  it("PaymentChannels.withdraw cannot be re-entered (collect sends nothing)", async () => {
    const { user, deployer, token, channels } = await fixture();
    await channels.connect(user).createChannel(deployer.address, 1000n);
    await channels.connect(user).settle(1n);
    await mine(2);
    // collect moves no tokens (pull payments), so an armed token has nothing to call back from.
    await token.arm(await channels.getAddress(), channels.interface.encodeFunctionData("withdraw", [1000n]));
    await channels.connect(user).collect(1n);
    expect(await token.armed()).to.equal(true);
    expect(await channels.balanceOf(user.address)).to.equal(1000n);
    // The refund's transfer calls withdraw again: the guard stops it and nothing moves.
    await expect(channels.connect(user).withdraw(1000n)).to.be.revertedWithCustomError(
      channels,
      "ReentrancyGuardReentrantCall",
    );
    expect(await channels.balanceOf(user.address)).to.equal(1000n);
    expect(await token.balanceOf(await channels.getAddress())).to.equal(1000n);
  });
});
