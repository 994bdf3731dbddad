import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { privateKeyToAccount } from "viem/accounts";
import { advertiseHoldings, verifyHoldings } from "../../../actors-ts/protocol/holdings";
import { ProviderStore } from "../../../actors-ts/provider/provider-store";

const account = privateKeyToAccount(`0x${"22".repeat(32)}`);
const root = (i: number) => `0x${i.toString(16).padStart(64, "0")}` as const;
const cid = (i: number) => `bafk-test-${i}`;

describe("provider/holdings-log: seed 002's cache of recent changes and the snapshot stash", () => {
  let dir: string;
  let store: ProviderStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "rm-holdings-"));
    store = new ProviderStore(join(dir, "provider.sqlite"));
  });
  afterEach(async () => {
    store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const hold = (i: number) =>
    store.upsertPiece({ root: root(i), pieceCidV2: cid(i), payloadSize: 100, paddedSize: 128 });

  it("gives changes since a sequence, and a snapshot to a reader older than what compaction kept", async () => {
    for (let i = 1; i <= 10; i++) hold(i);
    store.setPieceStatus(root(3), "lost"); // seq 11: a removal
    expect(store.holdings.size()).to.equal(11);
    // A reader at seq 8 gets exactly what changed after it.
    const recent = await verifyHoldings(await advertiseHoldings(store.holdings, account, 31337, 8), account.address);
    expect(recent).to.include({ since: 8, seq: 11 });
    expect(recent.added).to.deep.equal([cid(9), cid(10)]);
    expect(recent.removed).to.deep.equal([cid(3)]);

    // Keep the newest 4 changes (seq 8..11): the log is bounded, the sequence goes on.
    expect(store.holdings.compact(4)).to.equal(7);
    expect(store.holdings.size()).to.equal(4);
    const stillRecent = store.holdings.holdingsChanges(7);
    expect(stillRecent?.added).to.deep.equal([cid(8), cid(9), cid(10)]);
    // A reader at seq 2 is behind the cache: it gets the snapshot of every piece held.
    expect(store.holdings.holdingsChanges(2)).to.equal(undefined);
    const behind = await verifyHoldings(await advertiseHoldings(store.holdings, account, 31337, 2), account.address);
    expect(behind.since).to.equal(null);
    expect(behind.seq).to.equal(11);
    expect([...behind.added].sort()).to.deep.equal([1, 2, 4, 5, 6, 7, 8, 9, 10].map(cid).sort());

    // New changes after a compaction carry on from the old head, not from the rows left.
    hold(11);
    expect(store.holdings.holdingsChanges(11)).to.deep.equal({ seq: 12, added: [cid(11)], removed: [] });
    // Compacting more than is there drops nothing.
    expect(store.holdings.compact(100)).to.equal(0);
  });
});
