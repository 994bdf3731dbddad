import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Address, Hex } from "viem";
import { openDatabase } from "../../../actors-ts/core/database";
import { stringifyJson } from "../../../actors-ts/core/json";
import type { StorageDealProposal } from "../../../actors-ts/chain/eip712";
import { RepairStore } from "../../../actors-ts/repair/repair-store";
import { REPAIR_MIGRATIONS } from "../../../actors-ts/repair/repair-schema";

const proposal = (nonce: bigint): StorageDealProposal => ({
  pieceCid: `0x${"cd".repeat(32)}` as Hex,
  pieceSize: 1024n,
  payloadSize: 1016n,
  client: `0x${"11".repeat(20)}` as Address,
  provider: `0x${"22".repeat(20)}` as Address,
  label: "l",
  startEpoch: 100n,
  endEpoch: 200n,
  storagePricePerEpoch: 3n,
  providerCollateral: 10n,
  clientCollateral: 1n,
  nonce,
});

/** The settlement queue in a real SQLite file: the migration and the sync from the daemon's rows. */
describe("RepairStore worker storage deals (the settlement queue)", () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "rm-worker-deals-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("the migration carries over replaced deals: pending ones stay pending, settled ones done", () => {
    const path = join(dir, "repair.sqlite");
    const old = openDatabase(path, REPAIR_MIGRATIONS.slice(0, 3));
    const insert = old.prepare(
      "INSERT INTO retired_storage_deals (storage_deal_id, proposal_json, retired_at, settled_at) VALUES (?, ?, ?, ?)",
    );
    insert.run("5", stringifyJson(proposal(5n)), 1, null);
    insert.run("6", stringifyJson(proposal(6n)), 2, 3);
    old.close();
    const store = new RepairStore(path);
    try {
      expect(store.workerDeals.pending().map((r) => [r.storageDealId, r.proposal])).to.deep.equal([[5n, proposal(5n)]]);
      expect(store.workerDeals.outcome(6n)).to.equal("closed");
      store.workerDeals.markDone(5n, "settled");
      expect(store.workerDeals.pending()).to.deep.equal([]);
      const retired = store.db
        .prepare("SELECT settled_at FROM retired_storage_deals WHERE storage_deal_id = '5'")
        .get() as {
        settled_at: number | null;
      };
      expect(retired.settled_at).to.be.a("number");
    } finally {
      store.close();
    }
  });

  it("every published piece's storage deal is queued once, with its proposal; unpublished ones are not", () => {
    const store = new RepairStore(join(dir, "repair.sqlite"));
    try {
      store.insertDeal(
        {
          dealId: 1n,
          droot: `0x${"ab".repeat(32)}` as Hex,
          client: `0x${"33".repeat(20)}` as Address,
          k: 1,
          m: 1,
          pieceSize: 1024n,
          endEpoch: 1000n,
          status: "active",
        },
        [0, 1].map((index) => ({
          dealId: 1n,
          index,
          pieceCid: `piece-${index}`,
          root: `0x${index.toString(16).padStart(64, "0")}` as Hex,
          payloadSize: 1016,
          state: "published" as const,
          mode: "assign" as const,
        })),
      );
      const signed = (nonce: bigint) => ({
        proposal: proposal(nonce),
        clientSignature: "0x" as Hex,
        pieceCidV2: "p",
        proposalHash: `0x${"00".repeat(32)}` as Hex,
        providerUrl: "http://127.0.0.1:1",
      });
      store.updatePiece(1n, 0, { storageDealId: 9n, proposal: signed(9n) });
      store.updatePiece(1n, 1, { proposal: signed(10n) }); // proposed, not yet a deal
      expect(store.workerDeals.syncFromPieces()).to.equal(1);
      expect(store.workerDeals.syncFromPieces()).to.equal(0);
      expect(store.workerDeals.pending().map((r) => [r.storageDealId, r.proposal])).to.deep.equal([[9n, proposal(9n)]]);
      // A renewal replaces the piece's proposal (a later end, a fresh nonce): the queue takes the
      // new one, which is the one settleDeals must be given; a settled row is left as it was.
      const renewed = { ...signed(11n), proposal: { ...proposal(11n), endEpoch: 500n } };
      store.updatePiece(1n, 0, { proposal: renewed });
      store.workerDeals.syncFromPieces();
      expect(store.workerDeals.pending().map((r) => r.proposal)).to.deep.equal([renewed.proposal]);
      store.workerDeals.markDone(9n, "settled");
      store.updatePiece(1n, 0, { proposal: signed(12n) });
      store.workerDeals.syncFromPieces();
      const row = store.db
        .prepare("SELECT proposal_json FROM worker_storage_deals WHERE storage_deal_id = '9'")
        .get() as { proposal_json: string };
      expect(JSON.parse(row.proposal_json)).to.deep.equal(JSON.parse(stringifyJson(renewed.proposal)));
    } finally {
      store.close();
    }
  });
});
