import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, mine } from "@nomicfoundation/hardhat-network-helpers";
import type { Address } from "viem";
import { repairSlotLabel } from "../../../actors-ts/chain/repair-market/slot-label";
import { makePiece, publishDeals } from "../helpers/market";
import {
  PIECE_PAYLOAD,
  PIECE_SIZE,
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

const DEAL_STATE = { Placing: 1n, Active: 2n, Completed: 3n, Lost: 4n };
const STORAGE_STATE = { Published: 1n, Active: 2n, Faulted: 3n, Terminated: 4n };

describe("RepairMarket: placement, loss, repair and slashing", () => {
  async function withDeal() {
    const f = await deployRepair();
    const file = makeFile();
    const dealId = await makeRepairDeal(f, file);
    const deal = await f.repair.getDeal(dealId);
    return { ...f, file, dealId, deal };
  }

  async function withPlacedFile() {
    const f = await withDeal();
    const stored = await placeFile(f, f.dealId, f.file);
    return { ...f, stored };
  }

  describe("assignPiece", () => {
    it("records each piece, and activates the deal once every piece's storage deal is proven", async () => {
      const f = await loadFixture(withDeal);
      const stored = [];
      for (let i = 0; i < 6; i++) {
        const storage = await storePiece(f, f.dealId, f.file, i, f.providers[i], f.deal.endEpoch);
        stored.push(storage);
        const tx = f.repair
          .connect(f.worker)
          .assignPiece(f.dealId, i, storage.dealId, storage.proposal, f.file.droot.proof(i));
        await expect(tx)
          .to.emit(f.repair, "PieceAssigned")
          .withArgs(f.dealId, i, storage.dealId, f.providers[i].address);
        await expect(tx).to.not.emit(f.repair, "RepairDealActivated");
        const slot = await f.repair.pieceSlot(f.dealId, i);
        expect(slot.storageDealId).to.equal(storage.dealId);
        expect(slot.provider).to.equal(f.providers[i].address);
        expect(slot.confirmed).to.equal(false);
      }
      // Assigned, not proven: still placing, earning nothing, and nothing to confirm yet.
      expect((await f.repair.getDeal(f.dealId)).state).to.equal(DEAL_STATE.Placing);
      await expect(f.repair.connect(f.reporter).confirmPiece(f.dealId, 0))
        .to.be.revertedWithCustomError(f.repair, "StorageDealNotProven")
        .withArgs(stored[0].dealId, (await f.market.dealInfo(stored[0].dealId)).state);
      await confirmPieces(f, f.dealId, [0, 1, 2, 3, 4], stored);
      expect((await f.repair.getDeal(f.dealId)).state).to.equal(DEAL_STATE.Placing);
      expect((await f.repair.getDeal(f.dealId)).confirmed).to.equal(5n);
      await expect(f.repair.connect(f.reporter).confirmPiece(f.dealId, 0))
        .to.be.revertedWithCustomError(f.repair, "PieceAlreadyConfirmed")
        .withArgs(f.dealId, 0n);
      // The last confirmation activates the deal, once.
      await confirmPieces(f, f.dealId, [5], stored);
      const deal = await f.repair.getDeal(f.dealId);
      expect(deal.state).to.equal(DEAL_STATE.Active);
      expect(deal.assigned).to.equal(6n);
      expect(deal.confirmed).to.equal(6n);
      const events = await f.repair.queryFilter(f.repair.filters.RepairDealActivated(f.dealId));
      expect(events).to.have.length(1);
      await expectRepairFundsConserved(f, f.accounts);
    });

    it("rejects a storage deal whose commitment is not leaf `index` of the droot", async () => {
      const f = await loadFixture(withDeal);
      const storage = await storePiece(f, f.dealId, f.file, 1, f.providers[0], f.deal.endEpoch);
      await expect(
        f.repair.connect(f.worker).assignPiece(f.dealId, 0, storage.dealId, storage.proposal, f.file.droot.proof(0)),
      )
        .to.be.revertedWithCustomError(f.repair, "PieceNotInDroot")
        .withArgs(f.dealId, 0n, f.file.pieces[1].pieceCid);
      // The right proof for the wrong index fails too.
      await expect(
        f.repair.connect(f.worker).assignPiece(f.dealId, 0, storage.dealId, storage.proposal, f.file.droot.proof(1)),
      )
        .to.be.revertedWithCustomError(f.repair, "PieceNotInDroot")
        .withArgs(f.dealId, 0n, f.file.pieces[1].pieceCid);
    });

    it("rejects two pieces of one file on one provider", async () => {
      const f = await loadFixture(withDeal);
      const first = await storePiece(f, f.dealId, f.file, 0, f.providers[0], f.deal.endEpoch);
      await f.repair.connect(f.worker).assignPiece(f.dealId, 0, first.dealId, first.proposal, f.file.droot.proof(0));
      const second = await storePiece(f, f.dealId, f.file, 1, f.providers[0], f.deal.endEpoch);
      await expect(
        f.repair.connect(f.worker).assignPiece(f.dealId, 1, second.dealId, second.proposal, f.file.droot.proof(1)),
      )
        .to.be.revertedWithCustomError(f.repair, "ProviderAlreadyHoldsPiece")
        .withArgs(f.dealId, f.providers[0].address);
    });

    it("rejects a proposal that is not the storage deal's", async () => {
      const f = await loadFixture(withDeal);
      const storage = await storePiece(f, f.dealId, f.file, 0, f.providers[0], f.deal.endEpoch);
      await expect(
        f.repair
          .connect(f.worker)
          .assignPiece(f.dealId, 0, storage.dealId, { ...storage.proposal, label: "x" }, f.file.droot.proof(0)),
      )
        .to.be.revertedWithCustomError(f.repair, "StorageDealMismatch")
        .withArgs(storage.dealId);
    });

    it("rejects a storage deal used twice", async () => {
      const f = await loadFixture(withDeal);
      const storage = await storePiece(f, f.dealId, f.file, 0, f.providers[0], f.deal.endEpoch);
      await f.repair
        .connect(f.worker)
        .assignPiece(f.dealId, 0, storage.dealId, storage.proposal, f.file.droot.proof(0));
      await expect(
        f.repair.connect(f.worker).assignPiece(f.dealId, 1, storage.dealId, storage.proposal, f.file.droot.proof(0)),
      )
        .to.be.revertedWithCustomError(f.repair, "StorageDealAlreadyUsed")
        .withArgs(storage.dealId);
      await expect(
        f.repair.connect(f.worker).assignPiece(f.dealId, 0, storage.dealId, storage.proposal, f.file.droot.proof(0)),
      )
        .to.be.revertedWithCustomError(f.repair, "PieceAlreadyAssigned")
        .withArgs(f.dealId, 0n);
    });

    it("rejects a storage deal whose client is not the miner's worker", async () => {
      const f = await loadFixture(withDeal);
      const [storage] = await publishDeals(f, [f.file.pieces[0]], {
        client: f.client,
        provider: f.providers[0],
        fields: { endEpoch: f.deal.endEpoch },
      });
      await expect(
        f.repair.connect(f.worker).assignPiece(f.dealId, 0, storage.dealId, storage.proposal, f.file.droot.proof(0)),
      )
        .to.be.revertedWithCustomError(f.repair, "StorageClientNotWorker")
        .withArgs(storage.dealId, f.client.address, f.worker.address);
    });

    it("rejects a storage deal that ends before the repair deal", async () => {
      const f = await loadFixture(withDeal);
      const storage = await storePiece(f, f.dealId, f.file, 0, f.providers[0], f.deal.endEpoch - 1n);
      await expect(
        f.repair.connect(f.worker).assignPiece(f.dealId, 0, storage.dealId, storage.proposal, f.file.droot.proof(0)),
      )
        .to.be.revertedWithCustomError(f.repair, "StorageDealTooShort")
        .withArgs(storage.dealId, f.deal.endEpoch - 1n, f.deal.endEpoch);
    });

    it("rejects a storage deal of another piece size", async () => {
      const f = await loadFixture(withDeal);
      const [storage] = await publishDeals(f, [makePiece(3000)], {
        client: f.worker,
        provider: f.providers[0],
        fields: { endEpoch: f.deal.endEpoch },
      });
      await expect(
        f.repair.connect(f.worker).assignPiece(f.dealId, 0, storage.dealId, storage.proposal, f.file.droot.proof(0)),
      )
        .to.be.revertedWithCustomError(f.repair, "PieceSizeMismatch")
        .withArgs(storage.dealId, 4096n, PIECE_SIZE);
    });

    it("rejects a storage deal that claims less payload than the piece holds (its tail would go unchallenged)", async () => {
      const f = await loadFixture(withDeal);
      // The miner signs its storage deals: a smaller payloadSize would let its providers drop the
      // piece's last 200 bytes and still pass every period.
      const [storage] = await publishDeals(f, [f.file.pieces[0]], {
        client: f.worker,
        provider: f.providers[0],
        fields: {
          endEpoch: f.deal.endEpoch,
          payloadSize: PIECE_PAYLOAD - 200n,
          label: repairSlotLabel((await f.repair.getAddress()) as Address, f.dealId, 0),
        },
      });
      await expect(
        f.repair.connect(f.worker).assignPiece(f.dealId, 0, storage.dealId, storage.proposal, f.file.droot.proof(0)),
      )
        .to.be.revertedWithCustomError(f.repair, "PayloadSizeMismatch")
        .withArgs(storage.dealId, PIECE_PAYLOAD - 200n, PIECE_PAYLOAD);
    });

    it("rejects a storage deal that is already terminated", async () => {
      const f = await loadFixture(withDeal);
      const storage = await storePiece(f, f.dealId, f.file, 0, f.providers[0], f.deal.endEpoch);
      await f.market.connect(f.providers[0]).declareFaults([storage.dealId], [storage.proposal]);
      await expect(
        f.repair.connect(f.worker).assignPiece(f.dealId, 0, storage.dealId, storage.proposal, f.file.droot.proof(0)),
      )
        .to.be.revertedWithCustomError(f.repair, "StorageDealNotLive")
        .withArgs(storage.dealId, STORAGE_STATE.Terminated);
    });

    it("reverts for unknown deals, out-of-range indices and non-operators", async () => {
      const f = await loadFixture(withDeal);
      const storage = await storePiece(f, f.dealId, f.file, 0, f.providers[0], f.deal.endEpoch);
      const args = [storage.dealId, storage.proposal, f.file.droot.proof(0)] as const;
      await expect(f.repair.connect(f.worker).assignPiece(99n, 0, ...args))
        .to.be.revertedWithCustomError(f.repair, "DealNotFound")
        .withArgs(99n);
      await expect(f.repair.connect(f.worker).assignPiece(f.dealId, 6, ...args))
        .to.be.revertedWithCustomError(f.repair, "PieceIndexOutOfRange")
        .withArgs(f.dealId, 6n, 6n);
      await expect(f.repair.connect(f.client).assignPiece(f.dealId, 0, ...args))
        .to.be.revertedWithCustomError(f.repair, "NotMinerOperator")
        .withArgs(f.minerId, f.client.address);
    });
  });

  describe("reportPieceLoss and reassignPiece", () => {
    it("refuses to report a piece whose storage deal is healthy", async () => {
      const f = await loadFixture(withPlacedFile);
      const last = f.stored[5];
      await expect(f.repair.connect(f.reporter).reportPieceLoss(f.dealId, 5))
        .to.be.revertedWithCustomError(f.repair, "StorageDealHealthy")
        .withArgs(last.dealId, STORAGE_STATE.Active);
    });

    it("records a faulted piece as lost, accepts its repair on a new provider, and counts it once proven", async () => {
      const f = await loadFixture(withPlacedFile);
      await mineUntilFaulted(f, [f.stored[2].dealId]);
      expect((await f.market.dealInfo(f.stored[2].dealId)).state).to.equal(STORAGE_STATE.Faulted);
      await expect(f.repair.connect(f.reporter).reportPieceLoss(f.dealId, 2))
        .to.emit(f.repair, "PieceLost")
        .withArgs(f.dealId, 2n, f.stored[2].dealId, f.providers[2].address, f.reporter.address);
      expect(await f.repair.lostPieces(f.dealId)).to.equal(4n);
      const lostAt = BigInt(await ethers.provider.getBlockNumber());
      expect((await f.repair.getDeal(f.dealId)).oldestLossEpoch).to.equal(lostAt);
      await expect(f.repair.reportPieceLoss(f.dealId, 2))
        .to.be.revertedWithCustomError(f.repair, "PieceAlreadyLost")
        .withArgs(f.dealId, 2n);

      // The repaired piece may not go to a provider that holds another piece of the file...
      const clash = await storePiece(f, f.dealId, f.file, 2, f.providers[1], f.deal.endEpoch);
      await expect(
        f.repair.connect(f.worker).reassignPiece(f.dealId, 2, clash.dealId, clash.proposal, f.file.droot.proof(2)),
      )
        .to.be.revertedWithCustomError(f.repair, "ProviderAlreadyHoldsPiece")
        .withArgs(f.dealId, f.providers[1].address);
      // ...but can go to a new one.
      const fresh = await storePiece(f, f.dealId, f.file, 2, f.providers[6], f.deal.endEpoch);
      await expect(
        f.repair.connect(f.worker).reassignPiece(f.dealId, 2, fresh.dealId, fresh.proposal, f.file.droot.proof(2)),
      )
        .to.emit(f.repair, "PieceRepaired")
        .withArgs(f.dealId, 2n, f.stored[2].dealId, fresh.dealId, f.providers[6].address);
      // Pending: the piece stays lost, its window running from the loss, until the deal is proven.
      let slot = await f.repair.pieceSlot(f.dealId, 2);
      expect(slot.storageDealId).to.equal(fresh.dealId);
      expect(slot.confirmed).to.equal(false);
      expect(slot.lostAtEpoch).to.equal(lostAt);
      expect(await f.repair.lostPieces(f.dealId)).to.equal(4n);
      await confirmPieces(f, f.dealId, [2], [fresh]);
      expect(await f.repair.lostPieces(f.dealId)).to.equal(0n);
      slot = await f.repair.pieceSlot(f.dealId, 2);
      expect(slot.confirmed).to.equal(true);
      expect(slot.lostAtEpoch).to.equal(0n);
      expect((await f.repair.getDeal(f.dealId)).oldestLossEpoch).to.equal(0n);
      await expectRepairFundsConserved(f, f.accounts);
    });

    it("keeps the oldest remaining loss when one of several lost pieces is repaired", async () => {
      const f = await loadFixture(withPlacedFile);
      await mineUntilFaulted(f, [f.stored[0].dealId, f.stored[4].dealId]);
      await f.repair.reportPieceLoss(f.dealId, 0);
      const first = BigInt(await ethers.provider.getBlockNumber());
      await mine(5);
      await f.repair.reportPieceLoss(f.dealId, 4);
      const second = BigInt(await ethers.provider.getBlockNumber());
      const fresh = await storePiece(f, f.dealId, f.file, 0, f.providers[6], f.deal.endEpoch);
      await f.repair.connect(f.worker).reassignPiece(f.dealId, 0, fresh.dealId, fresh.proposal, f.file.droot.proof(0));
      expect((await f.repair.getDeal(f.dealId)).oldestLossEpoch).to.equal(first);
      await confirmPieces(f, f.dealId, [0], [fresh]);
      expect((await f.repair.getDeal(f.dealId)).oldestLossEpoch).to.equal(second);
      expect(second).to.be.greaterThan(first);
    });

    it("rejects reassigning a piece that is not lost, and reports on unassigned pieces", async () => {
      const f = await loadFixture(withDeal);
      const storage = await storePiece(f, f.dealId, f.file, 0, f.providers[0], f.deal.endEpoch);
      await f.repair
        .connect(f.worker)
        .assignPiece(f.dealId, 0, storage.dealId, storage.proposal, f.file.droot.proof(0));
      const other = await storePiece(f, f.dealId, f.file, 0, f.providers[1], f.deal.endEpoch);
      await expect(
        f.repair.connect(f.worker).reassignPiece(f.dealId, 0, other.dealId, other.proposal, f.file.droot.proof(0)),
      )
        .to.be.revertedWithCustomError(f.repair, "PieceNotLost")
        .withArgs(f.dealId, 0n);
      await expect(f.repair.reportPieceLoss(f.dealId, 3))
        .to.be.revertedWithCustomError(f.repair, "PieceNotAssigned")
        .withArgs(f.dealId, 3n);
    });

    it("declares the file lost when more than m pieces are lost, refunding and slashing", async () => {
      const f = await loadFixture(withPlacedFile);
      await mineUntilFaulted(
        f,
        [0, 1, 2].map((i) => f.stored[i].dealId),
      );
      await f.repair.reportPieceLoss(f.dealId, 0);
      await f.repair.reportPieceLoss(f.dealId, 1);
      const pledgeBefore = (await f.repair.getMiner(f.minerId)).pledge;
      const dealPledge = 6n * PIECE_PAYLOAD * BigInt(REPAIR_PARAMS.pledgePerByte);
      const slash = (dealPledge * 5000n) / 10_000n;
      const reportBounty = (dealPledge * BigInt(REPAIR_PARAMS.lossReportBountyBps)) / 10_000n;
      // The slash bounty is a share of the slash; the report bounty comes out of the pledge first.
      const bounty = (slash * 1000n) / 10_000n;
      const clientBefore = await f.repair.balanceOf(f.client.address);
      const tx = f.repair.connect(f.reporter).reportPieceLoss(f.dealId, 2);
      await expect(tx).to.emit(f.repair, "FileLost");
      const deal = await f.repair.getDeal(f.dealId);
      expect(deal.state).to.equal(DEAL_STATE.Lost);
      const refund = deal.amount - deal.claimed;
      await expect(tx).to.emit(f.repair, "FileLost").withArgs(f.dealId, f.minerId, refund, slash);
      expect((await f.repair.getMiner(f.minerId)).pledge).to.equal(pledgeBefore - slash - reportBounty);
      expect((await f.repair.getMiner(f.minerId)).powerBytes).to.equal(0n);
      expect((await f.repair.balanceOf(f.client.address)) - clientBefore).to.equal(refund + slash - bounty);
      expect(await f.repair.balanceOf(f.reporter.address)).to.equal(bounty + reportBounty);
      expect(await f.repair.balanceOf(f.deployer.address)).to.equal(2n * reportBounty);
      await expect(f.repair.reportPieceLoss(f.dealId, 3))
        .to.be.revertedWithCustomError(f.repair, "DealNotOpen")
        .withArgs(f.dealId, DEAL_STATE.Lost);
      await expectRepairFundsConserved(f, f.accounts);
    });
  });

  describe("slashRepairMiner", () => {
    it("slashes once when a lost piece stays unrepaired past the repair window", async () => {
      const f = await loadFixture(withPlacedFile);
      await mineUntilFaulted(f, [f.stored[3].dealId]);
      await f.repair.reportPieceLoss(f.dealId, 3);
      await expect(f.repair.connect(f.reporter).slashRepairMiner(f.dealId, 3))
        .to.be.revertedWithCustomError(f.repair, "NothingToSlash")
        .withArgs(f.dealId, 3n);
      await mine(REPAIR_PARAMS.repairWindowEpochs);
      const amount = (6n * PIECE_PAYLOAD * 1000n * 1000n) / 10_000n;
      const bounty = (amount * 1000n) / 10_000n;
      await expect(f.repair.connect(f.reporter).slashRepairMiner(f.dealId, 3))
        .to.emit(f.repair, "RepairMinerSlashed")
        .withArgs(f.dealId, 3n, f.minerId, amount, amount - bounty, bounty, f.reporter.address);
      await expect(f.repair.connect(f.reporter).slashRepairMiner(f.dealId, 3))
        .to.be.revertedWithCustomError(f.repair, "NothingToSlash")
        .withArgs(f.dealId, 3n);
      await expectRepairFundsConserved(f, f.accounts);
    });

    it("slashes pieces left unassigned past the placement deadline", async () => {
      const f = await loadFixture(withDeal);
      await expect(f.repair.slashRepairMiner(f.dealId, 0))
        .to.be.revertedWithCustomError(f.repair, "NothingToSlash")
        .withArgs(f.dealId, 0n);
      await mine(REPAIR_PARAMS.placementWindowEpochs);
      await expect(f.repair.connect(f.reporter).slashRepairMiner(f.dealId, 0)).to.emit(f.repair, "RepairMinerSlashed");
      await expectRepairFundsConserved(f, f.accounts);
    });

    it("never takes more than the miner's pledge", async () => {
      const f = await deployRepair({ ...REPAIR_PARAMS, lostPieceSlashBps: 10_000 });
      const file = makeFile();
      const dealId = await makeRepairDeal(f, file);
      const miner = await f.repair.getMiner(f.minerId);
      const backing = miner.powerBytes * 1000n;
      await f.repair.connect(f.owner).withdrawPledge(f.minerId, miner.pledge - backing);
      await mine(REPAIR_PARAMS.placementWindowEpochs);
      // One slash is the whole deal pledge share: the first takes everything, the next nothing.
      await expect(f.repair.slashRepairMiner(dealId, 0))
        .to.emit(f.repair, "RepairMinerSlashed")
        .withArgs(dealId, 0n, f.minerId, backing, backing - backing / 10n, backing / 10n, f.deployer.address);
      await expect(f.repair.slashRepairMiner(dealId, 1))
        .to.emit(f.repair, "RepairMinerSlashed")
        .withArgs(dealId, 1n, f.minerId, 0n, 0n, 0n, f.deployer.address);
      expect((await f.repair.getMiner(f.minerId)).pledge).to.equal(0n);
      await expectRepairFundsConserved(f, f.accounts);
    });
  });
});
