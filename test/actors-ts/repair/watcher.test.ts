import { expect } from "chai";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ethers, network } from "hardhat";
import { mine } from "@nomicfoundation/hardhat-network-helpers";
import { getAddress, type Address } from "viem";
import type { MarketContracts } from "../../../actors-ts/chain/contracts";
import { ScanCheckpoints } from "../../../actors-ts/chain/scan-checkpoints";
import { ClientStore } from "../../../actors-ts/client/client-store";
import { StorageClient } from "../../../actors-ts/client/storage-client";
import { createLogger } from "../../../actors-ts/core/logger";
import { ProviderHealth } from "../../../actors-ts/repair/provider-health";
import { RepairStore } from "../../../actors-ts/repair/repair-store";
import { Watcher } from "../../../actors-ts/repair/watcher";
import { PERIOD, type PublishedDeal } from "../../contracts/helpers/market";
import { TestProver } from "../../contracts/helpers/prover";
import {
  PIECE_SIZE,
  deployRepair,
  makeFile,
  makeRepairDeal,
  placeFile,
  type RepairFixture,
} from "../../contracts/helpers/repair";
import { inProcessClients as clientsFor } from "../../helpers/in-process-clients";

const WORKER_INDEX = 7; // deployRepair's worker (signers[7])
const CONFIRMATIONS = 3;
const REORG_LOG = "chain reorganised deeper than the confirmations";

/**
 * The repair miner's watcher on the in-process chain, with a real RepairStore, through
 * reorganisations made with evm_snapshot / evm_revert and re-mining (issue "Real chains": the
 * watcher acts only on blocks `confirmations` deep, notices a deeper reorganisation by block
 * hash, rewinds its cursor, reads again and converges to the chain's state).
 */
describe("repair/watcher: reorganisations below and above the confirmations", function () {
  this.timeout(300_000);
  let f: RepairFixture;
  let dir: string;
  let store: RepairStore;
  let clientStore: ClientStore;
  let watcher: Watcher;
  let logPath: string;
  let dealId: bigint;
  let held: PublishedDeal[];

  const logLines = async (): Promise<string[]> => (await readFile(logPath, "utf8").catch(() => "")).split("\n");
  const reorgLogs = async (): Promise<number> => (await logLines()).filter((l) => l.includes(REORG_LOG)).length;
  const head = async (): Promise<bigint> => BigInt(await ethers.provider.getBlockNumber());
  const storageState = async (index: number): Promise<bigint> =>
    (await f.market.dealInfo((await f.repair.pieceSlot(dealId, index)).storageDealId)).state;

  /**
   * Mines `blocks` blocks (or until `until` holds), proving for `provers` (piece indices) in each
   * of their data sets' challenge windows, so only the other pieces' providers miss periods.
   */
  async function mineProving(provers: number[], blocks: number, until?: () => Promise<boolean>): Promise<void> {
    for (let i = 0; i < blocks; i++) {
      if (until && (await until())) return;
      for (const index of provers) {
        const info = await f.market.dealInfo(held[index].dealId);
        const set = await f.market.dataSetInfo(info.dataSetId);
        const now = await head();
        if (set.currentPeriodProven || now <= set.challengeEpoch || now + 1n > set.deadlineEpoch) continue;
        await new TestProver(f.market, f.providers[index]).track(held[index]).prove(info.dataSetId);
      }
      await mine(1);
    }
    if (until && !(await until())) throw new Error(`condition not met in ${blocks} blocks`);
  }

  before(async () => {
    const deployBlock = await head();
    f = await deployRepair();
    const registry = await ethers.deployContract("ProviderRegistry");
    const contracts: MarketContracts = {
      token: getAddress(await f.token.getAddress()),
      registry: getAddress(await registry.getAddress()),
      storageMarket: getAddress(await f.market.getAddress()),
      repairMarket: getAddress(await f.repair.getAddress()),
      paymentChannels: getAddress(await f.token.getAddress()),
    };
    const file = makeFile(2, 1);
    dealId = await makeRepairDeal(f, file, 5_000n);
    held = await placeFile(f, dealId, file);
    dir = await mkdtemp(join(tmpdir(), "rm-watcher-"));
    logPath = join(dir, "miner.log");
    const logger = createLogger("repair", "info", logPath);
    store = new RepairStore(join(dir, "repair.sqlite"));
    clientStore = new ClientStore(join(dir, "client.sqlite"));
    const clients = await clientsFor(WORKER_INDEX);
    const deal = await f.repair.getDeal(dealId);
    store.insertDeal(
      {
        dealId,
        droot: file.droot.root,
        client: getAddress(f.client.address),
        k: 2,
        m: 1,
        pieceSize: PIECE_SIZE,
        endEpoch: deal.endEpoch,
        status: "active",
      },
      held.map((h, index) => ({
        dealId,
        index,
        pieceCid: file.pieces[index].pieceCid,
        root: file.pieces[index].pieceCid,
        payloadSize: file.pieces[index].payload.length,
        state: "assigned" as const,
        mode: "assign" as const,
        provider: getAddress(f.providers[index].address) as Address,
        storageDealId: h.dealId,
      })),
    );
    watcher = new Watcher(
      {
        clients,
        contracts,
        logger,
        providers: new ProviderHealth(),
        storage: new StorageClient({ clients, contracts, store: clientStore, logger }),
        store,
        wake: () => undefined,
      },
      {
        confirmations: CONFIRMATIONS,
        unreachableBackoffMs: 1_000,
        watchIntervalMs: 0,
        deployBlock,
        minerId: f.minerId,
        provingPeriodEpochs: PERIOD,
      },
    );
    await watcher.tick();
  });

  after(async () => {
    store?.close();
    clientStore?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("a reorganisation shallower than the confirmations: nothing it read is undone, nothing to notice", async () => {
    await mineProving([0, 1, 2], 6);
    await watcher.tick();
    const snapshot = (await network.provider.send("evm_snapshot", [])) as string;
    await mineProving([0, 1, 2], CONFIRMATIONS - 1);
    await watcher.tick(); // reads nothing past head − confirmations: the blocks about to change
    await network.provider.send("evm_revert", [snapshot]);
    await network.provider.send("hardhat_mine", ["0x" + (CONFIRMATIONS - 1).toString(16), "0x3"]);
    await watcher.tick();
    expect(await reorgLogs()).to.equal(0);
    expect(await new ScanCheckpoints(store, "watcher.checkpoints").findDivergence(await clientsFor(0))).to.equal(
      undefined,
    );
    expect(store.pieces(dealId).map((p) => p.state)).to.deep.equal(["assigned", "assigned", "assigned"]);
  });

  it("deeper than the confirmations: the loss it reported goes away with the blocks; the watcher says so, rewinds and restores the piece", async () => {
    await mineProving([0, 1, 2], 4);
    await watcher.tick();
    const snapshot = (await network.provider.send("evm_snapshot", [])) as string;
    // Piece 0's provider stops proving; the watcher reports the loss and queues a repair.
    await mineProving([1, 2], 6 * Number(PERIOD), async () => (await storageState(0)) === 3n);
    await watcher.tick();
    expect(store.piece(dealId, 0)?.state).to.equal("lost");
    expect((await f.repair.pieceSlot(dealId, 0)).lostAtEpoch).to.not.equal(0n);
    const queued = store.jobs.list(["queued"]).filter((j) => j.dealId === dealId);
    expect(queued.map((j) => j.indices)).to.deep.equal([[0]]);
    // The watcher reads the blocks holding the report, well past its confirmations.
    await mineProving([1, 2], CONFIRMATIONS + 3);
    await watcher.tick();

    // Those blocks go away: another branch from the snapshot, where piece 0 was proven.
    await network.provider.send("evm_revert", [snapshot]);
    await network.provider.send("hardhat_setPrevRandao", ["0x" + "42".repeat(32)]);
    await mineProving([0, 1, 2], 2 * CONFIRMATIONS);
    expect((await f.repair.pieceSlot(dealId, 0)).lostAtEpoch).to.equal(0n);
    await watcher.tick();

    expect(await reorgLogs()).to.equal(1);
    expect(store.piece(dealId, 0)?.state).to.equal("assigned");
    const job = store.jobs.get(queued[0].id);
    expect(job?.status).to.equal("done");
    expect(job?.error).to.equal("the loss was undone by a chain reorganisation");
    // Converged: the next rounds find nothing more to undo.
    await mineProving([0, 1, 2], CONFIRMATIONS + 1);
    await watcher.tick();
    expect(await reorgLogs()).to.equal(1);
    expect(store.pieces(dealId).map((p) => p.state)).to.deep.equal(["assigned", "assigned", "assigned"]);
  });
});
