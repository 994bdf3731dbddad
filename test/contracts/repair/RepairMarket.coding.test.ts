import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import {
  PIECE_PAYLOAD,
  PIECE_SIZE,
  PRICE,
  deployRepair,
  eventArgs,
  expectRepairFundsConserved,
  makeFile,
  makeRepairDeal,
  type RepairFixture,
} from "../helpers/repair";

const RS = 0;
const CLAY = 1;

/**
 * `CodingParams.scheme` and `d`: a bid names its erasure code (0 Reed–Solomon, 1 Clay) and, for
 * Clay, the helpers a single-piece repair reads from (k ≤ d ≤ k + m − 1). A client cannot post a
 * bid whose code no miner can honour, and a refused bid takes no tokens.
 */
describe("RepairMarket: coding scheme and d in addBid", () => {
  async function fixture() {
    return deployRepair();
  }

  async function bid(f: RepairFixture, coding: { k?: number; m?: number; scheme: number; d: number }) {
    const k = coding.k ?? 4;
    const m = coding.m ?? 2;
    const expiry = BigInt(await ethers.provider.getBlockNumber()) + 100n;
    return f.repair.connect(f.client).addBid(ethers.ZeroHash, PRICE, BigInt(k + m) * PIECE_PAYLOAD, 10n, expiry, {
      k,
      m,
      pieceSize: PIECE_SIZE,
      scheme: coding.scheme,
      d: coding.d,
    });
  }

  /** The attempt reverts with InvalidCodingParams carrying its values, and no token moves. */
  async function expectRefused(f: RepairFixture, coding: { k?: number; m?: number; scheme: number; d: number }) {
    const before = await f.token.balanceOf(f.client.address);
    const held = await f.token.balanceOf(await f.repair.getAddress());
    await expect(bid(f, coding))
      .to.be.revertedWithCustomError(f.repair, "InvalidCodingParams")
      .withArgs(coding.k ?? 4, coding.m ?? 2, PIECE_SIZE, coding.scheme, coding.d);
    expect(await f.token.balanceOf(f.client.address)).to.equal(before);
    expect(await f.token.balanceOf(await f.repair.getAddress())).to.equal(held);
    expect((await f.repair.counts())[2]).to.equal(0n);
    await expectRepairFundsConserved(f, f.accounts);
  }

  it("a client bids with an unknown scheme (2, 255) and is refused, paying nothing", async () => {
    const f = await loadFixture(fixture);
    await expectRefused(f, { scheme: 2, d: 5 });
    await expectRefused(f, { scheme: 255, d: 0 });
  });

  it("a client bids Clay with d below k (d = k − 1, d = 0) and is refused", async () => {
    const f = await loadFixture(fixture);
    await expectRefused(f, { scheme: CLAY, d: 3 });
    await expectRefused(f, { scheme: CLAY, d: 0 });
  });

  it("a client bids Clay with d above k + m − 1 (d = k + m, d = 255) and is refused", async () => {
    const f = await loadFixture(fixture);
    await expectRefused(f, { scheme: CLAY, d: 6 });
    await expectRefused(f, { scheme: CLAY, d: 255 });
  });

  it("a client bids Reed–Solomon with d set and is refused (d means nothing there)", async () => {
    const f = await loadFixture(fixture);
    await expectRefused(f, { scheme: RS, d: 5 });
    await expectRefused(f, { scheme: RS, d: 1 });
  });

  it("accepts Clay at both ends of d's range and Reed–Solomon with d = 0, each locking the bid's amount", async () => {
    const f = await loadFixture(fixture);
    for (const coding of [
      { scheme: CLAY, d: 4 },
      { scheme: CLAY, d: 5 },
      { scheme: RS, d: 0 },
      { k: 10, m: 4, scheme: CLAY, d: 13 },
    ]) {
      const amount = PRICE * BigInt((coding.k ?? 4) + (coding.m ?? 2)) * PIECE_PAYLOAD * 10n;
      await expect(bid(f, coding)).to.changeTokenBalances(f.token, [f.client, f.repair], [-amount, amount]);
    }
    expect((await f.repair.counts())[2]).to.equal(4n);
    await expectRepairFundsConserved(f, f.accounts);
  });

  it("a Clay bid's scheme and d come back from BidAdded, getBid and the deal made from it", async () => {
    const f = await loadFixture(fixture);
    const file = makeFile(4, 2, PIECE_SIZE, { scheme: CLAY, d: 5 });
    const dealId = await makeRepairDeal(f, file);
    const deal = await f.repair.getDeal(dealId);
    expect(deal.codingParams.k).to.equal(4n);
    expect(deal.codingParams.m).to.equal(2n);
    expect(deal.codingParams.pieceSize).to.equal(PIECE_SIZE);
    expect(deal.codingParams.scheme).to.equal(BigInt(CLAY));
    expect(deal.codingParams.d).to.equal(5n);
    const stored = await f.repair.getBid(deal.bidId);
    expect(stored.codingParams.scheme).to.equal(BigInt(CLAY));
    expect(stored.codingParams.d).to.equal(5n);
    const expiry = BigInt(await ethers.provider.getBlockNumber()) + 100n;
    const receipt = await (
      await f.repair.connect(f.client).addBid(file.droot.root, PRICE, 6n * PIECE_PAYLOAD, 10n, expiry, {
        k: 4,
        m: 2,
        pieceSize: PIECE_SIZE,
        scheme: CLAY,
        d: 4,
      })
    ).wait();
    const args = eventArgs(f.repair, receipt, "BidAdded") as unknown as { codingParams: { scheme: bigint; d: bigint } };
    expect(args.codingParams.scheme).to.equal(BigInt(CLAY));
    expect(args.codingParams.d).to.equal(4n);
    await expectRepairFundsConserved(f, f.accounts);
  });
});
