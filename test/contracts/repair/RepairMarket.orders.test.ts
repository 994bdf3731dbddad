import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, mine } from "@nomicfoundation/hardhat-network-helpers";
import {
  PIECE_PAYLOAD,
  PIECE_SIZE,
  PRICE,
  REPAIR_PARAMS,
  deployRepair,
  expectRepairFundsConserved,
  makeFile,
  postBid,
  signAuthorization,
  signWorkerConsent,
} from "../helpers/repair";

const BID_STATE = { Open: 1n, Taken: 2n, Cancelled: 3n, Released: 4n };

describe("RepairMarket: miners, asks, bids and addDeal", () => {
  async function fixture() {
    return deployRepair();
  }

  describe("constructor", () => {
    for (const [name, value] of [
      ["placementWindowEpochs", 0n],
      ["repairWindowEpochs", 0n],
      ["lostPieceSlashBps", 10_001n],
      ["dataLossSlashBps", 10_001n],
      ["slashBountyBps", 10_001n],
      ["lossReportBountyBps", 1001n], // above lostPieceSlashBps
      ["maxDealDurationEpochs", 0n],
    ] as const) {
      it(`reverts when ${name} is ${value}`, async () => {
        const f = await loadFixture(fixture);
        const factory = await ethers.getContractFactory("RepairMarket");
        await expect(
          factory.deploy(await f.token.getAddress(), await f.market.getAddress(), { ...REPAIR_PARAMS, [name]: value }),
        )
          .to.be.revertedWithCustomError(factory, "InvalidRepairParams")
          .withArgs(name, value);
      });
    }

    it("reverts when the storage market uses another token", async () => {
      const f = await loadFixture(fixture);
      const other = await ethers.deployContract("PaymentToken", ["O", "O", 1n]);
      const factory = await ethers.getContractFactory("RepairMarket");
      await expect(factory.deploy(await other.getAddress(), await f.market.getAddress(), REPAIR_PARAMS))
        .to.be.revertedWithCustomError(factory, "InvalidRepairParams")
        .withArgs("storageMarket.token", BigInt(await f.token.getAddress()));
    });

    it("exposes its parameters", async () => {
      const f = await loadFixture(fixture);
      const p = await f.repair.repairParams();
      expect(p.pledgePerByte).to.equal(REPAIR_PARAMS.pledgePerByte);
      expect(p.repairWindowEpochs).to.equal(REPAIR_PARAMS.repairWindowEpochs);
      expect(p.placementWindowEpochs).to.equal(REPAIR_PARAMS.placementWindowEpochs);
      expect(await f.repair.token()).to.equal(await f.token.getAddress());
      expect(await f.repair.storageMarket()).to.equal(await f.market.getAddress());
    });
  });

  describe("createRepairMiner", () => {
    it("creates a miner owned by the caller with its pledge locked", async () => {
      const f = await loadFixture(fixture);
      const pledge = ethers.parseEther("3");
      const consent = await signWorkerConsent(f.repair, f.provider, f.other.address);
      const tx = f.repair.connect(f.other).createRepairMiner(f.provider.address, pledge, "http://m2", consent);
      await expect(tx)
        .to.emit(f.repair, "RepairMinerCreated")
        .withArgs(2n, f.other.address, f.provider.address, pledge, "http://m2");
      await expect(tx).to.changeTokenBalances(f.token, [f.other, f.repair], [-pledge, pledge]);
      const miner = await f.repair.getMiner(2n);
      expect(miner.owner).to.equal(f.other.address);
      expect(miner.worker).to.equal(f.provider.address);
      expect(miner.pledge).to.equal(pledge);
      expect(miner.powerBytes).to.equal(0n);
      expect(miner.endpoint).to.equal("http://m2");
      await expectRepairFundsConserved(f, f.accounts);
    });

    it("reverts on an empty endpoint", async () => {
      const f = await loadFixture(fixture);
      await expect(f.repair.createRepairMiner(f.worker.address, 0, "", "0x"))
        .to.be.revertedWithCustomError(f.repair, "InvalidEndpoint")
        .withArgs(0n);
    });
  });

  describe("pledge and endpoint", () => {
    it("adds pledge from anyone and lets the owner withdraw the excess", async () => {
      const f = await loadFixture(fixture);
      await expect(f.repair.connect(f.client).addPledge(f.minerId, 500n))
        .to.emit(f.repair, "PledgeAdded")
        .withArgs(f.minerId, 500n);
      const pledge = (await f.repair.getMiner(f.minerId)).pledge;
      await expect(f.repair.connect(f.owner).withdrawPledge(f.minerId, pledge))
        .to.emit(f.repair, "PledgeWithdrawn")
        .withArgs(f.minerId, pledge);
      expect((await f.repair.getMiner(f.minerId)).pledge).to.equal(0n);
      await expectRepairFundsConserved(f, f.accounts);
    });

    it("keeps the pledge that backs the miner's power", async () => {
      const f = await loadFixture(fixture);
      const file = makeFile();
      const bidId = await postBid(f, file);
      const deadline = BigInt(await ethers.provider.getBlockNumber()) + 50n;
      const sig = await signAuthorization(f.repair, f.client, { bidId, askId: 1n, minerId: 1n, deadline });
      await f.repair.connect(f.worker).addDeal(1n, bidId, deadline, sig);
      const miner = await f.repair.getMiner(f.minerId);
      const backing = miner.powerBytes * 1000n;
      await expect(f.repair.connect(f.owner).withdrawPledge(f.minerId, miner.pledge))
        .to.be.revertedWithCustomError(f.repair, "InsufficientPledge")
        .withArgs(f.minerId, miner.pledge, backing + miner.pledge);
      await f.repair.connect(f.owner).withdrawPledge(f.minerId, miner.pledge - backing);
    });

    it("reverts for strangers, unknown miners and zero amounts", async () => {
      const f = await loadFixture(fixture);
      await expect(f.repair.connect(f.worker).withdrawPledge(f.minerId, 1n))
        .to.be.revertedWithCustomError(f.repair, "NotMinerOwner")
        .withArgs(f.minerId, f.worker.address);
      await expect(f.repair.connect(f.owner).withdrawPledge(f.minerId, 0n)).to.be.revertedWithCustomError(
        f.repair,
        "ZeroAmount",
      );
      await expect(f.repair.addPledge(9n, 1n)).to.be.revertedWithCustomError(f.repair, "MinerNotFound").withArgs(9n);
      await expect(f.repair.connect(f.client).addPledge(f.minerId, 0n)).to.be.revertedWithCustomError(
        f.repair,
        "ZeroAmount",
      );
    });

    it("lets the owner change the endpoint", async () => {
      const f = await loadFixture(fixture);
      await expect(f.repair.connect(f.owner).setMinerEndpoint(f.minerId, "http://new"))
        .to.emit(f.repair, "MinerEndpointUpdated")
        .withArgs(f.minerId, "http://new");
      expect((await f.repair.getMiner(f.minerId)).endpoint).to.equal("http://new");
      await expect(f.repair.connect(f.worker).setMinerEndpoint(f.minerId, "http://x"))
        .to.be.revertedWithCustomError(f.repair, "NotMinerOwner")
        .withArgs(f.minerId, f.worker.address);
      await expect(f.repair.connect(f.owner).setMinerEndpoint(f.minerId, "x".repeat(257)))
        .to.be.revertedWithCustomError(f.repair, "InvalidEndpoint")
        .withArgs(257n);
    });
  });

  describe("asks", () => {
    it("adds and cancels an ask", async () => {
      const f = await loadFixture(fixture);
      const expiry = BigInt(await ethers.provider.getBlockNumber()) + 100n;
      await expect(f.repair.connect(f.owner).addRepairAsk(f.minerId, 7n, 4096n, expiry))
        .to.emit(f.repair, "RepairAskAdded")
        .withArgs(2n, f.minerId, 7n, 4096n, expiry);
      expect((await f.repair.getAsk(2n)).active).to.equal(true);
      await expect(f.repair.connect(f.worker).cancelRepairAsk(2n)).to.emit(f.repair, "RepairAskCancelled").withArgs(2n);
      await expect(f.repair.connect(f.worker).cancelRepairAsk(2n))
        .to.be.revertedWithCustomError(f.repair, "AskNotActive")
        .withArgs(2n);
    });

    it("reverts for non-operators, unknown miners and asks, past expiries", async () => {
      const f = await loadFixture(fixture);
      const now = BigInt(await ethers.provider.getBlockNumber());
      await expect(f.repair.connect(f.client).addRepairAsk(f.minerId, 1n, 1n, now + 10n))
        .to.be.revertedWithCustomError(f.repair, "NotMinerOperator")
        .withArgs(f.minerId, f.client.address);
      await expect(f.repair.addRepairAsk(5n, 1n, 1n, now + 10n))
        .to.be.revertedWithCustomError(f.repair, "MinerNotFound")
        .withArgs(5n);
      await expect(f.repair.connect(f.worker).addRepairAsk(f.minerId, 1n, 1n, now + 1n))
        .to.be.revertedWithCustomError(f.repair, "InvalidExpiry")
        .withArgs(now + 1n);
      await expect(f.repair.cancelRepairAsk(42n)).to.be.revertedWithCustomError(f.repair, "AskNotFound").withArgs(42n);
      await expect(f.repair.connect(f.client).cancelRepairAsk(1n))
        .to.be.revertedWithCustomError(f.repair, "NotMinerOperator")
        .withArgs(f.minerId, f.client.address);
    });
  });

  describe("bids", () => {
    it("locks price × size × duration from the client", async () => {
      const f = await loadFixture(fixture);
      const file = makeFile();
      const size = 6n * PIECE_PAYLOAD;
      const expiry = BigInt(await ethers.provider.getBlockNumber()) + 100n;
      const amount = PRICE * size * 500n;
      const tx = f.repair
        .connect(f.client)
        .addBid(file.droot.root, PRICE, size, 500n, expiry, { k: 4, m: 2, pieceSize: PIECE_SIZE, scheme: 0, d: 0 });
      await expect(tx)
        .to.emit(f.repair, "BidAdded")
        .withArgs(
          1n,
          f.client.address,
          file.droot.root,
          PRICE,
          size,
          500n,
          expiry,
          [4n, 2n, PIECE_SIZE, 0n, 0n],
          amount,
        );
      await expect(tx).to.changeTokenBalances(f.token, [f.client, f.repair], [-amount, amount]);
      const bid = await f.repair.getBid(1n);
      expect(bid.state).to.equal(BID_STATE.Open);
      expect(bid.amount).to.equal(amount);
      await expectRepairFundsConserved(f, f.accounts);
    });

    const invalid: [string, Record<string, unknown>, string, unknown[]][] = [
      ["k = 0", { k: 0 }, "InvalidCodingParams", [0n, 2n, PIECE_SIZE, 0n, 0n]],
      ["m = 0", { m: 0 }, "InvalidCodingParams", [4n, 0n, PIECE_SIZE, 0n, 0n]],
      ["k + m > 64", { k: 60, m: 5 }, "InvalidCodingParams", [60n, 5n, PIECE_SIZE, 0n, 0n]],
      ["a piece size that is not a power of two", { pieceSize: 1000n }, "InvalidCodingParams", [4n, 2n, 1000n, 0n, 0n]],
      // The bid pays for payload: (k + m) equal pieces that need this piece size.
      ["a size far below the pieces' payload", { size: 100n }, "InvalidBidSize", [100n, 6n * 509n, 6n * 1016n]],
      [
        "a size not a multiple of k + m",
        { size: 6n * 1016n - 1n },
        "InvalidBidSize",
        [6n * 1016n - 1n, 6n * 509n, 6n * 1016n],
      ],
      [
        "the padded size (paying for padding)",
        { size: 6n * 1024n },
        "InvalidBidSize",
        [6n * 1024n, 6n * 509n, 6n * 1016n],
      ],
      [
        "pieces that fit half the piece size",
        { size: 6n * 508n },
        "InvalidBidSize",
        [6n * 508n, 6n * 509n, 6n * 1016n],
      ],
      ["a zero duration", { duration: 0n }, "InvalidDuration", [0n]],
      ["a duration above the maximum", { duration: 100_001n }, "InvalidDuration", [100_001n]],
      ["an expiry in the past", { expiry: 1n }, "InvalidExpiry", [1n]],
      ["a price at or above 2^120", { price: 2n ** 120n }, "AmountTooLarge", [2n ** 120n]],
    ];
    for (const [what, o, error, args] of invalid) {
      it(`reverts on ${what}`, async () => {
        const f = await loadFixture(fixture);
        const expiry = BigInt(await ethers.provider.getBlockNumber()) + 100n;
        const k = (o.k as number) ?? 4;
        const m = (o.m as number) ?? 2;
        const pieceSize = (o.pieceSize as bigint) ?? PIECE_SIZE;
        const size = (o.size as bigint) ?? (BigInt(k + m) * pieceSize * 127n) / 128n;
        await expect(
          f.repair
            .connect(f.client)
            .addBid(
              ethers.ZeroHash,
              (o.price as bigint) ?? PRICE,
              size,
              (o.duration as bigint) ?? 10n,
              (o.expiry as bigint) ?? expiry,
              { k, m, pieceSize, scheme: 0, d: 0 },
            ),
        )
          .to.be.revertedWithCustomError(f.repair, error)
          .withArgs(...args);
      });
    }

    it("cancels an open bid and credits its funds back", async () => {
      const f = await loadFixture(fixture);
      const bidId = await postBid(f, makeFile());
      const amount = (await f.repair.getBid(bidId)).amount;
      await expect(f.repair.connect(f.other).cancelBid(bidId))
        .to.be.revertedWithCustomError(f.repair, "NotBidClient")
        .withArgs(bidId, f.other.address);
      await expect(f.repair.connect(f.client).cancelBid(bidId))
        .to.emit(f.repair, "BidCancelled")
        .withArgs(bidId, amount);
      expect(await f.repair.balanceOf(f.client.address)).to.equal(amount);
      await expect(f.repair.connect(f.client).cancelBid(bidId))
        .to.be.revertedWithCustomError(f.repair, "BidNotOpen")
        .withArgs(bidId, BID_STATE.Cancelled);
      await expect(f.repair.cancelBid(99n)).to.be.revertedWithCustomError(f.repair, "BidNotFound").withArgs(99n);
      await expectRepairFundsConserved(f, f.accounts);
    });

    it("releases an expired bid to its client, not before", async () => {
      const f = await loadFixture(fixture);
      const bidId = await postBid(f, makeFile());
      const bid = await f.repair.getBid(bidId);
      await expect(f.repair.connect(f.other).releaseExpiredBid(bidId))
        .to.be.revertedWithCustomError(f.repair, "BidNotExpired")
        .withArgs(bidId, bid.expiryEpoch);
      await mine(1001);
      await expect(f.repair.connect(f.other).releaseExpiredBid(bidId))
        .to.emit(f.repair, "BidReleased")
        .withArgs(bidId, bid.amount);
      expect(await f.repair.balanceOf(f.client.address)).to.equal(bid.amount);
      await expectRepairFundsConserved(f, f.accounts);
    });
  });

  describe("addDeal", () => {
    async function withBid() {
      const f = await deployRepair();
      const file = makeFile();
      const bidId = await postBid(f, file);
      const deadline = BigInt(await ethers.provider.getBlockNumber()) + 50n;
      const signature = await signAuthorization(f.repair, f.client, { bidId, askId: 1n, minerId: 1n, deadline });
      return { ...f, file, bidId, deadline, signature };
    }

    it("creates a placing deal, takes the bid and adds the miner's power", async () => {
      const f = await loadFixture(withBid);
      const block = BigInt(await ethers.provider.getBlockNumber()) + 1n; // read before sending
      const tx = f.repair.connect(f.worker).addDeal(1n, f.bidId, f.deadline, f.signature);
      await expect(tx)
        .to.emit(f.repair, "RepairDealCreated")
        .withArgs(1n, f.bidId, f.minerId, 1n, f.client.address, f.file.droot.root, block + 2000n, block + 60n);
      const deal = await f.repair.getDeal(1n);
      expect(deal.state).to.equal(1n); // Placing
      expect(deal.size).to.equal(6n * PIECE_PAYLOAD);
      expect((await f.repair.getBid(f.bidId)).state).to.equal(BID_STATE.Taken);
      expect((await f.repair.getMiner(f.minerId)).powerBytes).to.equal(6n * PIECE_PAYLOAD);
      await expectRepairFundsConserved(f, f.accounts);
    });

    it("rejects the client's signature replayed for another ask", async () => {
      const f = await loadFixture(withBid);
      const expiry = BigInt(await ethers.provider.getBlockNumber()) + 500n;
      await f.repair.connect(f.worker).addRepairAsk(f.minerId, PRICE, 1n << 30n, expiry);
      await expect(f.repair.connect(f.worker).addDeal(2n, f.bidId, f.deadline, f.signature))
        .to.be.revertedWithCustomError(f.repair, "InvalidClientSignature")
        .withArgs(f.bidId, f.client.address);
    });

    it("rejects the client's signature replayed by another miner", async () => {
      const f = await loadFixture(withBid);
      await f.repair.connect(f.other).createRepairMiner(f.other.address, ethers.parseEther("10"), "http://thief", "0x");
      const expiry = BigInt(await ethers.provider.getBlockNumber()) + 500n;
      await f.repair.connect(f.other).addRepairAsk(2n, PRICE, 1n << 30n, expiry);
      await expect(f.repair.connect(f.other).addDeal(2n, f.bidId, f.deadline, f.signature))
        .to.be.revertedWithCustomError(f.repair, "InvalidClientSignature")
        .withArgs(f.bidId, f.client.address);
    });

    it("rejects signatures for another chain, another contract or by someone else", async () => {
      const f = await loadFixture(withBid);
      const fields = { bidId: f.bidId, askId: 1n, minerId: 1n, deadline: f.deadline };
      for (const signature of [
        await signAuthorization(f.repair, f.client, fields, { chainId: 5n }),
        await signAuthorization(f.repair, f.client, fields, { verifyingContract: await f.market.getAddress() }),
        await signAuthorization(f.repair, f.other, fields),
      ]) {
        await expect(f.repair.connect(f.worker).addDeal(1n, f.bidId, f.deadline, signature))
          .to.be.revertedWithCustomError(f.repair, "InvalidClientSignature")
          .withArgs(f.bidId, f.client.address);
      }
    });

    it("takes a bid only once", async () => {
      const f = await loadFixture(withBid);
      await f.repair.connect(f.worker).addDeal(1n, f.bidId, f.deadline, f.signature);
      await expect(f.repair.connect(f.worker).addDeal(1n, f.bidId, f.deadline, f.signature))
        .to.be.revertedWithCustomError(f.repair, "BidNotOpen")
        .withArgs(f.bidId, BID_STATE.Taken);
    });

    it("reverts after the authorization deadline", async () => {
      const f = await loadFixture(withBid);
      await mine(60);
      await expect(f.repair.connect(f.worker).addDeal(1n, f.bidId, f.deadline, f.signature))
        .to.be.revertedWithCustomError(f.repair, "AuthorizationExpired")
        .withArgs(f.deadline, BigInt(await ethers.provider.getBlockNumber()) + 1n);
    });

    it("reverts for unknown, cancelled or expired asks and for non-operators", async () => {
      const f = await loadFixture(withBid);
      await expect(f.repair.connect(f.worker).addDeal(9n, f.bidId, f.deadline, f.signature))
        .to.be.revertedWithCustomError(f.repair, "AskNotFound")
        .withArgs(9n);
      await expect(f.repair.connect(f.client).addDeal(1n, f.bidId, f.deadline, f.signature))
        .to.be.revertedWithCustomError(f.repair, "NotMinerOperator")
        .withArgs(f.minerId, f.client.address);
      const now = BigInt(await ethers.provider.getBlockNumber());
      await f.repair.connect(f.worker).addRepairAsk(f.minerId, PRICE, 1n << 30n, now + 2n);
      await mine(3);
      await expect(f.repair.connect(f.worker).addDeal(2n, f.bidId, f.deadline, f.signature))
        .to.be.revertedWithCustomError(f.repair, "AskExpired")
        .withArgs(2n, now + 2n);
      await f.repair.connect(f.worker).cancelRepairAsk(1n);
      await expect(f.repair.connect(f.worker).addDeal(1n, f.bidId, f.deadline, f.signature))
        .to.be.revertedWithCustomError(f.repair, "AskNotActive")
        .withArgs(1n);
    });

    it("reverts when the ask does not cover the bid's price or size", async () => {
      const f = await loadFixture(withBid);
      const expiry = BigInt(await ethers.provider.getBlockNumber()) + 500n;
      await f.repair.connect(f.worker).addRepairAsk(f.minerId, PRICE + 1n, 1n << 30n, expiry);
      await f.repair.connect(f.worker).addRepairAsk(f.minerId, PRICE, 1024n, expiry);
      for (const askId of [2n, 3n]) {
        const signature = await signAuthorization(f.repair, f.client, {
          bidId: f.bidId,
          askId,
          minerId: 1n,
          deadline: f.deadline,
        });
        await expect(f.repair.connect(f.worker).addDeal(askId, f.bidId, f.deadline, signature))
          .to.be.revertedWithCustomError(f.repair, "AskDoesNotCoverBid")
          .withArgs(askId, f.bidId);
      }
    });

    it("reverts for an expired bid", async () => {
      const f = await loadFixture(withBid);
      const bid = await f.repair.getBid(f.bidId);
      await mine(1001);
      const deadline = BigInt(await ethers.provider.getBlockNumber()) + 10n;
      const signature = await signAuthorization(f.repair, f.client, {
        bidId: f.bidId,
        askId: 1n,
        minerId: 1n,
        deadline,
      });
      await expect(f.repair.connect(f.worker).addDeal(1n, f.bidId, deadline, signature))
        .to.be.revertedWithCustomError(f.repair, "BidExpired")
        .withArgs(f.bidId, bid.expiryEpoch);
    });

    it("reverts when the pledge cannot back the new power", async () => {
      const f = await loadFixture(withBid);
      const pledge = (await f.repair.getMiner(f.minerId)).pledge;
      await f.repair.connect(f.owner).withdrawPledge(f.minerId, pledge - 10n);
      await expect(f.repair.connect(f.worker).addDeal(1n, f.bidId, f.deadline, f.signature))
        .to.be.revertedWithCustomError(f.repair, "InsufficientPledge")
        .withArgs(f.minerId, 10n, 6n * PIECE_PAYLOAD * 1000n);
    });

    it("accepts a contract client whose ERC-1271 wallet validates the signature", async () => {
      const f = await loadFixture(withBid);
      const wallet = await ethers.deployContract("ERC1271WalletMock", [f.other.address]);
      const walletAddress = await wallet.getAddress();
      await f.token.transfer(walletAddress, ethers.parseEther("100"));
      const repairAddress = await f.repair.getAddress();
      await wallet
        .connect(f.other)
        .execute(
          await f.token.getAddress(),
          f.token.interface.encodeFunctionData("approve", [repairAddress, ethers.MaxUint256]),
        );
      const expiry = BigInt(await ethers.provider.getBlockNumber()) + 100n;
      await wallet
        .connect(f.other)
        .execute(
          repairAddress,
          f.repair.interface.encodeFunctionData("addBid", [
            f.file.droot.root,
            PRICE,
            6n * PIECE_PAYLOAD,
            100n,
            expiry,
            { k: 4, m: 2, pieceSize: PIECE_SIZE, scheme: 0, d: 0 },
          ]),
        );
      const bidId = 2n;
      expect((await f.repair.getBid(bidId)).client).to.equal(walletAddress);
      const fields = { bidId, askId: 1n, minerId: 1n, deadline: f.deadline };
      const forged = await signAuthorization(f.repair, f.client, fields);
      await expect(f.repair.connect(f.worker).addDeal(1n, bidId, f.deadline, forged))
        .to.be.revertedWithCustomError(f.repair, "InvalidClientSignature")
        .withArgs(bidId, walletAddress);
      const good = await signAuthorization(f.repair, f.other, fields);
      await expect(f.repair.connect(f.worker).addDeal(1n, bidId, f.deadline, good)).to.emit(
        f.repair,
        "RepairDealCreated",
      );
    });
  });
});
