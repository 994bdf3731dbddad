import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Address, Hex } from "viem";
import { RepairStore } from "../../../actors-ts/repair/repair-store";

// The repair jobs in a real SQLite database: the bug where a loss merged into a running job was
// marked rebuilt without being rebuilt, and never repaired.

describe("RepairStore repair jobs", () => {
  let dir: string;
  let store: RepairStore;
  const dealId = 7n;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "rm-repair-store-"));
    store = new RepairStore(join(dir, "repair.sqlite"));
    store.insertDeal(
      {
        dealId,
        droot: `0x${"ab".repeat(32)}` as Hex,
        client: `0x${"11".repeat(20)}` as Address,
        k: 4,
        m: 2,
        pieceSize: 2048n,
        endEpoch: 10_000n,
        status: "active",
      },
      Array.from({ length: 6 }, (_, index) => ({
        dealId,
        index,
        pieceCid: `piece-${index}`,
        root: `0x${index.toString(16).padStart(64, "0")}` as Hex,
        payloadSize: 2032,
        state: "assigned" as const,
        mode: "assign" as const,
        provider: `0x${String(index + 1).repeat(40)}` as Address,
        storageDealId: BigInt(index + 1),
      })),
    );
  });

  afterEach(async () => {
    store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const lose = (index: number) => {
    store.updatePiece(dealId, index, { state: "lost", mode: "reassign", faultEpoch: 100n });
    store.jobs.queue(dealId, [index], 100n);
  };

  it("a loss merged into a job that is already running gets a job of its own when the run hands over", () => {
    lose(0);
    const [job] = store.jobs.list(["queued"]);
    // The repairer starts on piece 0 (its snapshot); meanwhile piece 1 is lost and merged in.
    lose(1);
    expect(store.jobs.get(job.id)?.indices).to.deep.equal([0, 1]);
    const next = store.jobs.handRebuiltToPlacement(job.id, dealId, new Map([[0, "/tmp/rebuilt-0"]]));
    expect(store.jobs.get(job.id)).to.include({ status: "rebuilt" });
    expect(store.jobs.get(job.id)?.indices).to.deep.equal([0]);
    expect(next).to.be.a("number");
    expect(store.jobs.get(next as number)).to.include({ status: "queued" });
    expect(store.jobs.get(next as number)?.indices).to.deep.equal([1]);
    expect(store.piece(dealId, 0)?.state).to.equal("pending");
    expect(store.piece(dealId, 1)?.state).to.equal("lost");
  });

  it("a hand-over retires the replaced storage deal with its proposal, to be settled once closed", () => {
    const proposal = {
      pieceCid: `0x${"cd".repeat(32)}` as Hex,
      pieceSize: 2048n,
      payloadSize: 2032n,
      client: `0x${"11".repeat(20)}` as Address,
      provider: `0x${"1".repeat(40)}` as Address,
      label: "repair-slot:0xmarket:7:0",
      startEpoch: 100n,
      endEpoch: 20_000n,
      storagePricePerEpoch: 2032n,
      providerCollateral: 2032n,
      clientCollateral: 0n,
      nonce: 2n ** 63n + 5n,
    };
    store.updatePiece(dealId, 0, {
      proposal: {
        proposal,
        clientSignature: "0x01",
        pieceCidV2: "bafk-piece-0",
        proposalHash: `0x${"ef".repeat(32)}` as Hex,
        providerUrl: "http://127.0.0.1:1",
      },
    });
    lose(0);
    const [job] = store.jobs.list(["queued"]);
    store.jobs.handRebuiltToPlacement(job.id, dealId, new Map([[0, "/tmp/rebuilt-0"]]));
    // Piece 0's old deal (id 1) is retired with its exact terms; the row now waits for a new deal.
    expect(store.retiredStorageDeals()).to.deep.equal([{ storageDealId: 1n, proposal }]);
    expect(store.piece(dealId, 0)?.storageDealId).to.equal(undefined);
    store.markRetiredError(1n, "DealNotOpen");
    expect(store.retiredStorageDeals()).to.have.length(1);
    store.markRetiredSettled(1n);
    expect(store.retiredStorageDeals()).to.deep.equal([]);
  });

  it("queues lost pieces that no queued job covers, taking them out of a rebuilt job that still names them", () => {
    lose(2);
    const [job] = store.jobs.list(["queued"]);
    // State an older version could leave: the job claims 2 and 3, rebuilt only 2; 3 stays lost.
    store.updatePiece(dealId, 3, { state: "lost", mode: "reassign", faultEpoch: 101n });
    store.updatePiece(dealId, 2, { state: "pending", localPath: "/tmp/rebuilt-2" });
    store.db.prepare("UPDATE repairs SET indices_json = '[2,3]', status = 'rebuilt' WHERE id = ?").run(job.id);
    expect(store.jobs.queueUncoveredLosses(dealId, 120n)).to.deep.equal([3]);
    expect(store.jobs.get(job.id)?.indices).to.deep.equal([2]);
    expect(store.jobs.list(["queued"]).map((j) => j.indices)).to.deep.equal([[3]]);
    // Nothing is queued twice.
    expect(store.jobs.queueUncoveredLosses(dealId, 121n)).to.deep.equal([]);
  });

  it("queues nothing when fewer than k pieces are left: the file's loss is the chain's to call", () => {
    for (const i of [0, 1, 2]) store.updatePiece(dealId, i, { state: "lost", mode: "reassign", faultEpoch: 100n });
    expect(store.jobs.queueUncoveredLosses(dealId, 120n)).to.deep.equal([]);
  });
});
