import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, mine } from "@nomicfoundation/hardhat-network-helpers";
import { SETTLE_DELAY, deployChannels, expectChannelFundsConserved, signVoucher, voucher } from "../helpers/channels";
import type { BlocklistTokenMock } from "../../../typechain-types";

const FUNDS = 10_000n;

describe("PaymentChannels", () => {
  async function withChannel() {
    const f = await deployChannels();
    await f.channels.connect(f.payer).createChannel(f.payee.address, FUNDS);
    return { ...f, channelId: 1n };
  }

  it("refuses a settle delay that would let the payer collect before the payee can redeem, or wrap", async () => {
    const f = await deployChannels();
    const token = await f.channels.token();
    const factory = await ethers.getContractFactory("PaymentChannels");
    for (const delay of [0n, 1n, 2n ** 32n, 2n ** 64n - 1n]) {
      await expect(factory.deploy(token, delay))
        .to.be.revertedWithCustomError(f.channels, "InvalidSettleDelay")
        .withArgs(delay, 2n, 2n ** 32n - 1n);
    }
    const ok = await factory.deploy(token, 2n ** 32n - 1n);
    expect(await ok.settleDelayEpochs()).to.equal(2n ** 32n - 1n);
  });

  describe("createChannel", () => {
    it("opens a funded channel from the caller", async () => {
      const f = await loadFixture(deployChannels);
      const tx = f.channels.connect(f.payer).createChannel(f.payee.address, FUNDS);
      await expect(tx).to.emit(f.channels, "ChannelCreated").withArgs(1n, f.payer.address, f.payee.address, FUNDS);
      await expect(tx).to.changeTokenBalances(f.token, [f.payer, f.channels], [-FUNDS, FUNDS]);
      const channel = await f.channels.getChannel(1n);
      expect(channel.payer).to.equal(f.payer.address);
      expect(channel.payee).to.equal(f.payee.address);
      expect(channel.funds).to.equal(FUNDS);
      expect(channel.settlingAt).to.equal(0n);
      expect(await f.channels.settleDelayEpochs()).to.equal(SETTLE_DELAY);
      await expectChannelFundsConserved(f);
    });

    it("reverts for a zero or self payee and a zero amount", async () => {
      const f = await loadFixture(deployChannels);
      await expect(f.channels.connect(f.payer).createChannel(ethers.ZeroAddress, 1n))
        .to.be.revertedWithCustomError(f.channels, "InvalidPayee")
        .withArgs(ethers.ZeroAddress);
      await expect(f.channels.connect(f.payer).createChannel(f.payer.address, 1n))
        .to.be.revertedWithCustomError(f.channels, "InvalidPayee")
        .withArgs(f.payer.address);
      await expect(f.channels.connect(f.payer).createChannel(f.payee.address, 0n)).to.be.revertedWithCustomError(
        f.channels,
        "ZeroAmount",
      );
    });
  });

  describe("fund", () => {
    it("adds to an open channel, payer only", async () => {
      const f = await loadFixture(withChannel);
      await expect(f.channels.connect(f.payer).fund(f.channelId, 5n))
        .to.emit(f.channels, "ChannelFunded")
        .withArgs(f.channelId, 5n, FUNDS + 5n);
      await expect(f.channels.connect(f.payee).fund(f.channelId, 5n))
        .to.be.revertedWithCustomError(f.channels, "NotPayer")
        .withArgs(f.channelId, f.payee.address);
      await expect(f.channels.connect(f.payer).fund(9n, 5n))
        .to.be.revertedWithCustomError(f.channels, "ChannelNotFound")
        .withArgs(9n);
      await f.channels.connect(f.payee).settle(f.channelId);
      const settlingAt = (await f.channels.getChannel(f.channelId)).settlingAt;
      await expect(f.channels.connect(f.payer).fund(f.channelId, 5n))
        .to.be.revertedWithCustomError(f.channels, "ChannelSettling")
        .withArgs(f.channelId, settlingAt);
      await expectChannelFundsConserved(f);
    });
  });

  describe("updateChannelState", () => {
    it("redeems cumulative vouchers per lane; the higher nonce wins", async () => {
      const f = await loadFixture(withChannel);
      const v1 = voucher({ channelId: f.channelId, amount: 100n, nonce: 1n });
      await expect(f.channels.connect(f.payee).updateChannelState(v1, await signVoucher(f.channels, f.payer, v1), "0x"))
        .to.emit(f.channels, "VoucherRedeemed")
        .withArgs(f.channelId, 0n, 1n, 100n, 100n);
      const v2 = voucher({ channelId: f.channelId, amount: 250n, nonce: 2n });
      await expect(f.channels.connect(f.payee).updateChannelState(v2, await signVoucher(f.channels, f.payer, v2), "0x"))
        .to.emit(f.channels, "VoucherRedeemed")
        .withArgs(f.channelId, 0n, 2n, 250n, 150n);
      const lane1 = voucher({ channelId: f.channelId, lane: 1n, amount: 40n, nonce: 1n });
      await f.channels.connect(f.payee).updateChannelState(lane1, await signVoucher(f.channels, f.payer, lane1), "0x");
      expect((await f.channels.getChannel(f.channelId)).redeemed).to.equal(290n);
      const lane = await f.channels.laneState(f.channelId, 0n);
      expect(lane.nonce).to.equal(2n);
      expect(lane.redeemed).to.equal(250n);
    });

    it("refuses a replayed or stale nonce", async () => {
      const f = await loadFixture(withChannel);
      const v = voucher({ channelId: f.channelId, amount: 100n, nonce: 3n });
      const sig = await signVoucher(f.channels, f.payer, v);
      await f.channels.connect(f.payee).updateChannelState(v, sig, "0x");
      await expect(f.channels.connect(f.payee).updateChannelState(v, sig, "0x"))
        .to.be.revertedWithCustomError(f.channels, "VoucherNonceTooLow")
        .withArgs(f.channelId, 0n, 3n, 3n);
    });

    it("never lowers what the payee can claim", async () => {
      const f = await loadFixture(withChannel);
      const v1 = voucher({ channelId: f.channelId, amount: 100n, nonce: 1n });
      await f.channels.connect(f.payee).updateChannelState(v1, await signVoucher(f.channels, f.payer, v1), "0x");
      const lower = voucher({ channelId: f.channelId, amount: 99n, nonce: 2n });
      await expect(
        f.channels.connect(f.payee).updateChannelState(lower, await signVoucher(f.channels, f.payer, lower), "0x"),
      )
        .to.be.revertedWithCustomError(f.channels, "VoucherAmountTooLow")
        .withArgs(f.channelId, 0n, 99n, 100n);
    });

    it("refuses vouchers signed by anyone but the payer, or for another channel, chain or contract", async () => {
      const f = await loadFixture(withChannel);
      await f.channels.connect(f.payer).createChannel(f.payee.address, FUNDS);
      const v = voucher({ channelId: f.channelId, amount: 10n, nonce: 1n });
      const forOther = voucher({ channelId: 2n, amount: 10n, nonce: 1n });
      const cases = [
        await signVoucher(f.channels, f.other, v),
        await signVoucher(f.channels, f.payee, v),
        await signVoucher(f.channels, f.payer, v, { chainId: 1n }),
        await signVoucher(f.channels, f.payer, v, { verifyingContract: await f.token.getAddress() }),
        // Signed for channel 2, presented for channel 1.
        await signVoucher(f.channels, f.payer, forOther),
      ];
      for (const signature of cases) {
        await expect(f.channels.connect(f.payee).updateChannelState(v, signature, "0x"))
          .to.be.revertedWithCustomError(f.channels, "InvalidVoucherSignature")
          .withArgs(f.channelId, f.payer.address);
      }
    });

    it("refuses vouchers beyond the channel's funds", async () => {
      const f = await loadFixture(withChannel);
      const a = voucher({ channelId: f.channelId, amount: FUNDS - 10n, nonce: 1n });
      await f.channels.connect(f.payee).updateChannelState(a, await signVoucher(f.channels, f.payer, a), "0x");
      const b = voucher({ channelId: f.channelId, lane: 7n, amount: 11n, nonce: 1n });
      await expect(f.channels.connect(f.payee).updateChannelState(b, await signVoucher(f.channels, f.payer, b), "0x"))
        .to.be.revertedWithCustomError(f.channels, "VoucherExceedsFunds")
        .withArgs(f.channelId, FUNDS + 1n, FUNDS);
    });

    it("honours time locks and secrets", async () => {
      const f = await loadFixture(withChannel);
      const now = BigInt(await ethers.provider.getBlockNumber());
      const early = voucher({ channelId: f.channelId, amount: 5n, nonce: 1n, timeLockMin: now + 10n });
      await expect(
        f.channels.connect(f.payee).updateChannelState(early, await signVoucher(f.channels, f.payer, early), "0x"),
      )
        .to.be.revertedWithCustomError(f.channels, "VoucherTimeLocked")
        .withArgs(now + 10n, 0n, now + 1n);
      const late = voucher({ channelId: f.channelId, amount: 5n, nonce: 1n, timeLockMax: now });
      const lateSig = await signVoucher(f.channels, f.payer, late);
      const next = BigInt(await ethers.provider.getBlockNumber()) + 1n;
      await expect(f.channels.connect(f.payee).updateChannelState(late, lateSig, "0x"))
        .to.be.revertedWithCustomError(f.channels, "VoucherTimeLocked")
        .withArgs(0n, now, next);
      const secret = ethers.toUtf8Bytes("open sesame");
      const secretHash = ethers.keccak256(secret) as `0x${string}`;
      const locked = voucher({ channelId: f.channelId, amount: 5n, nonce: 1n, secretHash });
      const sig = await signVoucher(f.channels, f.payer, locked);
      await expect(f.channels.connect(f.payee).updateChannelState(locked, sig, "0x1234"))
        .to.be.revertedWithCustomError(f.channels, "VoucherSecretMismatch")
        .withArgs(f.channelId, secretHash);
      await expect(f.channels.connect(f.payee).updateChannelState(locked, sig, secret)).to.emit(
        f.channels,
        "VoucherRedeemed",
      );
    });

    it("only the payee redeems", async () => {
      const f = await loadFixture(withChannel);
      const v = voucher({ channelId: f.channelId, amount: 5n, nonce: 1n });
      await expect(f.channels.connect(f.other).updateChannelState(v, await signVoucher(f.channels, f.payer, v), "0x"))
        .to.be.revertedWithCustomError(f.channels, "NotPayee")
        .withArgs(f.channelId, f.other.address);
    });
  });

  describe("settle and collect", () => {
    it("pays the payee its best voucher and refunds the payer after the delay", async () => {
      const f = await loadFixture(withChannel);
      const v = voucher({ channelId: f.channelId, amount: 700n, nonce: 1n });
      const sig = await signVoucher(f.channels, f.payer, v);
      // The block number is read before the transaction is sent: read after, it races the mining.
      const at = BigInt(await ethers.provider.getBlockNumber()) + 1n + SETTLE_DELAY;
      const settleTx = f.channels.connect(f.payer).settle(f.channelId);
      await expect(settleTx).to.emit(f.channels, "ChannelSettlingStarted").withArgs(f.channelId, at);
      // The payee can still redeem while the channel settles.
      await f.channels.connect(f.payee).updateChannelState(v, sig, "0x");
      await expect(f.channels.connect(f.payee).collect(f.channelId))
        .to.be.revertedWithCustomError(f.channels, "SettleDelayNotOver")
        .withArgs(f.channelId, at, BigInt(await ethers.provider.getBlockNumber()) + 1n);
      await mine(SETTLE_DELAY);
      const tx = f.channels.connect(f.payer).collect(f.channelId);
      await expect(tx)
        .to.emit(f.channels, "ChannelCollectedOut")
        .withArgs(f.channelId, 700n, FUNDS - 700n);
      // Credited, not sent: each party pulls its own share.
      await expect(tx).to.changeTokenBalances(f.token, [f.payee, f.payer, f.channels], [0n, 0n, 0n]);
      expect(await f.channels.balanceOf(f.payee.address)).to.equal(700n);
      expect(await f.channels.balanceOf(f.payer.address)).to.equal(FUNDS - 700n);
      await expectChannelFundsConserved(f);
      await expect(f.channels.connect(f.payee).updateChannelState(v, sig, "0x"))
        .to.be.revertedWithCustomError(f.channels, "ChannelCollected")
        .withArgs(f.channelId);
      const payeeOut = f.channels.connect(f.payee).withdraw(700n);
      await expect(payeeOut).to.emit(f.channels, "Withdrawn").withArgs(f.payee.address, 700n);
      await expect(payeeOut).to.changeTokenBalances(f.token, [f.payee, f.channels], [700n, -700n]);
      await expect(f.channels.connect(f.payer).withdraw(FUNDS - 700n)).to.changeTokenBalances(
        f.token,
        [f.payer, f.channels],
        [FUNDS - 700n, -(FUNDS - 700n)],
      );
      await expectChannelFundsConserved(f);
    });

    it("withdraw: only what was credited, never zero, never another's", async () => {
      const f = await loadFixture(withChannel);
      await f.channels.connect(f.payer).settle(f.channelId);
      await mine(SETTLE_DELAY);
      await f.channels.connect(f.payee).collect(f.channelId);
      await expect(f.channels.connect(f.payer).withdraw(FUNDS + 1n))
        .to.be.revertedWithCustomError(f.channels, "InsufficientBalance")
        .withArgs(f.payer.address, FUNDS, FUNDS + 1n);
      await expect(f.channels.connect(f.payer).withdraw(0n)).to.be.revertedWithCustomError(f.channels, "ZeroAmount");
      // A stranger (or the payee, owed nothing here) cannot take the payer's refund.
      for (const who of [f.other, f.payee]) {
        await expect(f.channels.connect(who).withdraw(1n))
          .to.be.revertedWithCustomError(f.channels, "InsufficientBalance")
          .withArgs(who.address, 0n, 1n);
      }
      await f.channels.connect(f.payer).withdraw(FUNDS);
      await expect(f.channels.connect(f.payer).withdraw(1n))
        .to.be.revertedWithCustomError(f.channels, "InsufficientBalance")
        .withArgs(f.payer.address, 0n, 1n);
      await expectChannelFundsConserved(f);
    });

    it("a party the token refuses to pay cannot block the other's funds (pull payments)", async () => {
      const f = await deployChannels("BlocklistTokenMock");
      const token = f.token as unknown as BlocklistTokenMock;
      await f.channels.connect(f.payer).createChannel(f.payee.address, FUNDS);
      const v = voucher({ channelId: 1n, amount: 400n, nonce: 1n });
      await f.channels.connect(f.payee).updateChannelState(v, await signVoucher(f.channels, f.payer, v), "0x");
      // The payer gets itself blocklisted (or is), hoping to keep the payee from being paid.
      await token.setBlocked(f.payer.address, true);
      await f.channels.connect(f.payer).settle(1n);
      await mine(SETTLE_DELAY);
      await expect(f.channels.connect(f.payee).collect(1n))
        .to.emit(f.channels, "ChannelCollectedOut")
        .withArgs(1n, 400n, FUNDS - 400n);
      await expect(f.channels.connect(f.payee).withdraw(400n)).to.changeTokenBalances(
        f.token,
        [f.payee, f.channels],
        [400n, -400n],
      );
      // The blocked payer's refund waits in its balance until the token lets it out.
      await expect(f.channels.connect(f.payer).withdraw(FUNDS - 400n))
        .to.be.revertedWithCustomError(token, "Blocklisted")
        .withArgs(f.payer.address);
      expect(await f.channels.balanceOf(f.payer.address)).to.equal(FUNDS - 400n);
      await token.setBlocked(f.payer.address, false);
      await f.channels.connect(f.payer).withdraw(FUNDS - 400n);
      await expectChannelFundsConserved(f);
    });

    it("waits for the highest minSettleEpoch of the redeemed vouchers", async () => {
      const f = await loadFixture(withChannel);
      const now = BigInt(await ethers.provider.getBlockNumber());
      const v = voucher({ channelId: f.channelId, amount: 1n, nonce: 1n, minSettleEpoch: now + 100n });
      await f.channels.connect(f.payee).updateChannelState(v, await signVoucher(f.channels, f.payer, v), "0x");
      await expect(f.channels.connect(f.payer).settle(f.channelId))
        .to.emit(f.channels, "ChannelSettlingStarted")
        .withArgs(f.channelId, now + 100n);
    });

    it("reverts for strangers, double settles and early collects", async () => {
      const f = await loadFixture(withChannel);
      await expect(f.channels.connect(f.other).settle(f.channelId))
        .to.be.revertedWithCustomError(f.channels, "NotParticipant")
        .withArgs(f.channelId, f.other.address);
      await expect(f.channels.connect(f.payer).collect(f.channelId))
        .to.be.revertedWithCustomError(f.channels, "ChannelNotSettling")
        .withArgs(f.channelId);
      await f.channels.connect(f.payer).settle(f.channelId);
      const at = (await f.channels.getChannel(f.channelId)).settlingAt;
      await expect(f.channels.connect(f.payee).settle(f.channelId))
        .to.be.revertedWithCustomError(f.channels, "ChannelSettling")
        .withArgs(f.channelId, at);
      await expect(f.channels.connect(f.other).collect(f.channelId))
        .to.be.revertedWithCustomError(f.channels, "NotParticipant")
        .withArgs(f.channelId, f.other.address);
    });
  });
});
