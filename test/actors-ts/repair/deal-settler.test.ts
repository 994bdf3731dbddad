import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ethers } from "hardhat";
import { mine } from "@nomicfoundation/hardhat-network-helpers";
import { getAddress, zeroAddress } from "viem";
import type { Address, Hex } from "viem";
import type { ChainClients } from "../../../actors-ts/chain/clients";
import { inProcessClients as clientsFor } from "../../helpers/in-process-clients";
import type { MarketContracts } from "../../../actors-ts/chain/contracts";
import type { StorageDealProposal } from "../../../actors-ts/chain/eip712";
import { silentLogger } from "../../../actors-ts/core/logger";
import { StorageDealSettler } from "../../../actors-ts/repair/deal-settler";
import { escrowView } from "../../../actors-ts/repair/escrow-view";
import { RepairStore } from "../../../actors-ts/repair/repair-store";
import { Withdrawer } from "../../../actors-ts/repair/withdrawer";
import {
  PERIOD,
  advanceToChallengeWindow,
  clientLock,
  expectFundsConserved,
  makePiece,
  publishDeals,
  type PublishedDeal,
} from "../../contracts/helpers/market";
import { TestProver } from "../../contracts/helpers/prover";
import type { ProviderRegistry } from "../../../typechain-types";
import {
  deployRepair,
  expectRepairFundsConserved,
  makeFile,
  postBid,
  type RepairFixture,
} from "../../contracts/helpers/repair";

const WORKER_INDEX = 7; // deployRepair's worker (signers[7]); its owner is signers[6]

/**
 * Issue 17 on a real in-process chain and a real SQLite store: the settler finds every storage
 * deal whose client is the worker (from DealPublished), closes each one the market has ended, one
 * transaction each, never touches another client's deal, and a failing one does not stop the
 * others; the withdraw round keeps the placement reserve and moves the rest to the miner's owner;
 * the escrow view says what the chain says.
 */
describe("repair miner: every ended storage deal settled, what it is owed withdrawn", function () {
  this.timeout(300_000);
  let f: RepairFixture;
  let registry: ProviderRegistry;
  let dir: string;
  let store: RepairStore;
  let clients: ChainClients;
  let contracts: MarketContracts;
  let deployBlock: bigint;
  let settler: StorageDealSettler;
  let expired: PublishedDeal;
  let failed: PublishedDeal;
  let live: PublishedDeal;
  let foreign: PublishedDeal;
  const BOGUS = 999_999n;
  const worker = (): Address => getAddress(f.worker.address);
  const balanceOf = async (a: string) => {
    const [free, locked] = await f.market.balanceOf(a);
    return { free, locked };
  };

  before(async () => {
    deployBlock = BigInt(await ethers.provider.getBlockNumber());
    f = await deployRepair();
    registry = await ethers.deployContract("ProviderRegistry");
    contracts = {
      token: getAddress(await f.token.getAddress()),
      registry: getAddress(await registry.getAddress()),
      storageMarket: getAddress(await f.market.getAddress()),
      repairMarket: getAddress(await f.repair.getAddress()),
      paymentChannels: zeroAddress,
    };
    dir = await mkdtemp(join(tmpdir(), "rm-deal-settler-"));
    store = new RepairStore(join(dir, "repair.sqlite"));
    clients = await clientsFor(WORKER_INDEX);
    expect(clients.account.address).to.equal(worker());
    settler = new StorageDealSettler(
      { clients, contracts, store, logger: silentLogger },
      { confirmations: 0, deployBlock },
    );
    const [p1, p2, p3] = f.providers;
    // Expired: one epoch long, proven once before it starts, then its provider stops.
    const start = BigInt(await ethers.provider.getBlockNumber()) + 3n * PERIOD;
    [expired] = await publishDeals(f, [makePiece(1000)], {
      client: f.worker,
      provider: p1,
      fields: { startEpoch: start, endEpoch: start + 1n },
    });
    await advanceToChallengeWindow(f.market, p1.address);
    await new TestProver(f.market, p1).track(expired).prove();
    // Terminated: its provider never proves, so its data set fails.
    [failed] = await publishDeals(f, [makePiece(1000)], { client: f.worker, provider: p2 });
    // Another client's deal with the same provider: ended too, and closable by anyone.
    [foreign] = await publishDeals(f, [makePiece(1000)], { client: f.client, provider: p2 });
    await mine(6n * PERIOD);
    // Live: starts in the future.
    [live] = await publishDeals(f, [makePiece(1000)], { client: f.worker, provider: p3 });
    // A row the chain knows nothing of (its reads revert), and the foreign deal planted in the
    // queue as if the worker were its client.
    store.workerDeals.track(BOGUS, expired.proposal);
    store.workerDeals.track(foreign.dealId, { ...foreign.proposal, client: worker() });
  });

  after(async () => {
    store?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("the escrow view and the ended deals' locks equal the chain's numbers before settlement", async () => {
    expect(await settler.discover()).to.equal(3); // expired, failed, live: found by their events
    const states = await Promise.all(
      [expired, failed, live].map(async (d) => (await f.market.dealInfo(d.dealId)).state),
    );
    expect(states).to.deep.equal([5n, 4n, 1n]); // Expired, Terminated, Published
    const view = await escrowView({ clients, contracts, store }, settler, {
      minerId: f.minerId,
      provingPeriodEpochs: PERIOD,
      withdrawIntervalMs: 1000,
    });
    const chain = await balanceOf(worker());
    const ended = clientLock(expired.proposal) + clientLock(failed.proposal);
    expect(chain.locked).to.equal(ended + clientLock(live.proposal));
    expect(view).to.deep.equal({
      minerId: f.minerId.toString(),
      worker: worker(),
      storageMarket: { free: chain.free.toString(), locked: chain.locked.toString() },
      repairMarket: {
        balance: (await f.repair.balanceOf(worker())).toString(),
        pledge: (await f.repair.getMiner(f.minerId)).pledge.toString(),
      },
      lockedForEndedDeals: ended.toString(),
      endedDeals: [
        { storageDealId: expired.dealId.toString(), state: "Expired", locked: clientLock(expired.proposal).toString() },
        {
          storageDealId: failed.dealId.toString(),
          state: "Terminated",
          locked: clientLock(failed.proposal).toString(),
        },
      ],
      placementReserve: "0",
      pendingSettlements: 5,
      withdrawTo: getAddress(f.owner.address),
    });
  });

  it("a round closes each ended deal of the worker, skips another client's, and a failure stops none", async () => {
    const before = await balanceOf(worker());
    const round = await settler.tick();
    expect(round.closed).to.deep.equal([expired.dealId, failed.dealId]);
    expect(round.failed).to.deep.equal([BOGUS]);
    const info = async (d: PublishedDeal) => f.market.dealInfo(d.dealId);
    expect([(await info(expired)).closed, (await info(failed)).closed, (await info(live)).closed]).to.deep.equal([
      true,
      true,
      false,
    ]);
    // The foreign deal is ended and anyone could close it, but the worker never sent it.
    expect((await info(foreign)).state).to.equal(4n);
    expect((await info(foreign)).closed).to.equal(false);
    expect(store.workerDeals.outcome(foreign.dealId)).to.equal("foreign");
    expect(store.workerDeals.outcome(expired.dealId)).to.equal("settled");
    // Only the live deal still locks the worker's escrow; the rest came back to its free balance,
    // with the failed provider's whole collateral (nobody reported the failure).
    const after = await balanceOf(worker());
    expect(after.locked).to.equal(clientLock(live.proposal));
    expect(after.free - before.free).to.equal(
      clientLock(expired.proposal) + clientLock(failed.proposal) + failed.proposal.providerCollateral,
    );
    expect(await settler.endedLocks()).to.deep.equal([]);
    await expectFundsConserved(f, f.accounts);
    // The failing row stays queued, with its error, and is retried; nothing else is sent again.
    const again = await settler.tick();
    expect(again).to.deep.equal({ closed: [], failed: [BOGUS] });
    const bogus = store.workerDeals.pending().find((r) => r.storageDealId === BOGUS);
    expect(bogus?.attempts).to.equal(2);
    expect(bogus?.error).to.be.a("string").and.not.equal("");
  });

  it("a deal closed by someone else is only marked done; a live deal is settled once it ends", async () => {
    const [other] = await publishDeals(f, [makePiece(1000)], { client: f.worker, provider: f.providers[3] });
    await mine(6n * PERIOD);
    await (await f.market.connect(f.reporter).settleDeals([other.dealId], [other.proposal])).wait();
    // Both providers never proved: the live deal's data set failed meanwhile.
    const round = await settler.tick();
    expect(round.closed).to.deep.equal([live.dealId]);
    expect(store.workerDeals.outcome(other.dealId)).to.equal("closed");
    expect(store.workerDeals.outcome(live.dealId)).to.equal("settled");
    expect((await balanceOf(worker())).locked).to.equal(0n);
  });

  it("the withdraw round keeps the placement reserve and moves the rest to the miner's owner", async () => {
    const [provider] = f.providers;
    const price = 3n;
    await registry
      .connect(provider)
      .register(
        "http://127.0.0.1:1",
        { pricePerBytePerEpoch: price, minPieceSize: 128n, maxPieceSize: 1n << 20n, collateralPerByte: 0n },
        { pricePerByte: 1n, paymentIntervalBytes: 1n << 20n, paymentIntervalIncreaseBytes: 0n },
      );
    // A refund in RepairMarket: the worker's own cancelled bid.
    const bidId = await postBid(f, makeFile(), { client: f.worker });
    await (await f.repair.connect(f.worker).cancelBid(bidId)).wait();
    const repairBalance = await f.repair.balanceOf(worker());
    expect(repairBalance > 0n).to.equal(true);
    // A repair deal being placed: one piece proposed (its exact lock is kept), one pending (kept
    // at the highest fitting ask).
    const head = BigInt(await ethers.provider.getBlockNumber());
    const endEpoch = head + 500n;
    const proposed: StorageDealProposal = { ...live.proposal, nonce: 77n, storagePricePerEpoch: 5n };
    insertPlacingDeal(store, endEpoch, proposed);
    const reserve = clientLock(proposed) + price * 1016n * (endEpoch - head + PERIOD);
    const before = await balanceOf(worker());
    expect(before.free > reserve).to.equal(true);
    const ownerTokens = await f.token.balanceOf(f.owner.address);

    const withdrawer = new Withdrawer(
      { clients, contracts, store, logger: silentLogger },
      { minerId: f.minerId, provingPeriodEpochs: PERIOD },
    );
    const round = await withdrawer.tick();
    expect(round.reserve).to.equal(reserve);
    expect(round.to).to.equal(getAddress(f.owner.address));
    expect(round.withdrawals.map((w) => [w.source, w.amount])).to.deep.equal([
      ["storage", before.free - reserve],
      ["repair", repairBalance],
    ]);
    const after = await balanceOf(worker());
    expect(after.free).to.equal(reserve);
    expect(after.locked).to.equal(before.locked);
    expect(await f.repair.balanceOf(worker())).to.equal(0n);
    expect((await f.token.balanceOf(f.owner.address)) - ownerTokens).to.equal(before.free - reserve + repairBalance);
    await expectFundsConserved(f, f.accounts);
    await expectRepairFundsConserved(f, f.accounts);
    // Next round: the pending piece's estimate shrank by the blocks mined since (its deal ends
    // sooner), and exactly that is moved; RepairMarket has nothing left, so no transaction.
    const later = BigInt(await ethers.provider.getBlockNumber());
    const next = await withdrawer.tick();
    expect(next.reserve).to.equal(reserve - price * 1016n * (later - head));
    expect(next.withdrawals.map((w) => [w.source, w.amount])).to.deep.equal([
      ["storage", reserve - next.reserve],
      ["repair", 0n],
    ]);
    expect(next.withdrawals[1].hash).to.equal(undefined);
    expect((await balanceOf(worker())).free).to.equal(next.reserve);
  });
});

/** A local repair deal being placed: piece 0 proposed with `proposal`, piece 1 pending. */
function insertPlacingDeal(store: RepairStore, endEpoch: bigint, proposal: StorageDealProposal): void {
  const dealId = 42n;
  store.insertDeal(
    {
      dealId,
      droot: `0x${"ab".repeat(32)}` as Hex,
      client: `0x${"11".repeat(20)}` as Address,
      k: 1,
      m: 1,
      pieceSize: 1024n,
      endEpoch,
      status: "placing",
    },
    [0, 1].map((index) => ({
      dealId,
      index,
      pieceCid: `piece-${index}`,
      root: `0x${index.toString(16).padStart(64, "0")}` as Hex,
      payloadSize: 1016,
      state: index === 0 ? ("proposed" as const) : ("pending" as const),
      mode: "assign" as const,
    })),
  );
  store.updatePiece(dealId, 0, {
    proposal: {
      proposal,
      clientSignature: "0x",
      pieceCidV2: "piece-0",
      proposalHash: `0x${"00".repeat(32)}`,
      providerUrl: "http://127.0.0.1:1",
    },
  });
}
