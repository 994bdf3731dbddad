import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Address, Hex } from "viem";
import { BlobStore } from "../../../actors-ts/core/blob-store";
import { silentLogger } from "../../../actors-ts/core/logger";
import { ClientStore } from "../../../actors-ts/client/client-store";
import { RetrievalLedger } from "../../../actors-ts/client/retrieval/retrieval-ledger";
import { ErasurePool } from "../../../actors-ts/erasure/erasure-pool";
import { prepareFile, type PreparedFile } from "../../../actors-ts/manifest/prepare";
import type { RepairComponents } from "../../../actors-ts/repair/components";
import { repairConfigSchema } from "../../../actors-ts/repair/config";
import { Repairer } from "../../../actors-ts/repair/repairer";
import { RepairStore } from "../../../actors-ts/repair/repair-store";

// The repair queue in a real SQLite database (seed 002: "at most some N repair requests per
// iteration", riskiest first): several deals at different risk, each with a queued job.

/** Deal id → [lost piece indices, deal end epoch]. k = 2, m = 4: healthy = 6 − lost. */
const DEALS: Record<string, [number[], bigint]> = {
  "1": [[0], 9_000n], // 5 healthy
  "2": [[0, 1, 2], 9_000n], // 3 healthy
  "3": [[0, 1], 9_000n], // 4 healthy
  "4": [[3, 4, 5], 5_000n], // 3 healthy, ends sooner than deal 2
  "5": [[1, 2, 3, 4], 9_000n], // 2 healthy: the riskiest
};
/** Riskiest first: fewest healthy pieces, then the deal that ends soonest. */
const RISK_ORDER = [5n, 4n, 2n, 3n, 1n];

describe("repair queue: riskiest first, at most N repairs per iteration", function () {
  this.timeout(60_000);
  let dir: string;
  let store: RepairStore;
  let clientStore: ClientStore;
  let pool: ErasurePool;
  let prepared: PreparedFile;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "rm-repair-queue-"));
    pool = new ErasurePool(1);
    const file = join(dir, "file");
    await writeFile(file, randomBytes(5000));
    prepared = await prepareFile(file, { k: 2, m: 4, outDir: join(dir, "pieces"), pool });
  });

  after(async () => {
    await pool.close();
    await rm(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    store = new RepairStore(join(dir, `repair-${Math.random()}.sqlite`));
    clientStore = new ClientStore(join(dir, `client-${Math.random()}.sqlite`));
    const { manifest, piecePaths } = prepared;
    store.putManifest(manifest.droot, JSON.stringify(manifest));
    for (const [id, [lost, endEpoch]] of Object.entries(DEALS)) {
      const dealId = BigInt(id);
      store.insertDeal(
        {
          dealId,
          droot: manifest.droot,
          client: `0x${"11".repeat(20)}` as Address,
          k: manifest.k,
          m: manifest.m,
          pieceSize: BigInt(manifest.pieces[0].paddedSize),
          endEpoch,
          status: "active",
        },
        manifest.pieces.map((p, index) => ({
          dealId,
          index,
          pieceCid: p.pieceCid,
          root: p.root as Hex,
          payloadSize: p.payloadSize,
          state: lost.includes(index) ? ("lost" as const) : ("assigned" as const),
          mode: lost.includes(index) ? ("reassign" as const) : ("assign" as const),
          provider: `0x${String(index + 1).repeat(40)}` as Address,
          storageDealId: dealId * 10n + BigInt(index),
          // The placement was never proven everywhere: the lost pieces are still held locally.
          localPath: piecePaths[index],
        })),
      );
      store.jobs.queue(dealId, lost, 100n);
    }
  });

  afterEach(() => {
    store.close();
    clientStore.close();
  });

  it("picks the due jobs riskiest first, one per deal, never more than the limit", () => {
    // A second queued job on the riskiest deal (a loss found while a run was under way) and a
    // job backing off after a failure: neither may be picked beside / before their turn.
    store.db
      .prepare("INSERT INTO repairs (deal_id, indices_json, status, created_at) VALUES ('5', '[5]', 'queued', ?)")
      .run(Date.now());
    const now = Date.now();
    const jobOf = (dealId: bigint) => store.jobs.list(["queued"]).find((j) => j.dealId === dealId);
    store.jobs.update(jobOf(2n)?.id ?? -1, { nextAttemptAt: now + 60_000 });

    const order = (limit: number) => store.jobs.nextBatch(now, limit).map((j) => j.dealId);
    expect(order(2)).to.deep.equal([5n, 4n]);
    expect(order(1)).to.deep.equal([5n]);
    // Deal 2 backs off; deal 5 appears once however large the limit.
    expect(order(10)).to.deep.equal([5n, 4n, 3n, 1n]);
    expect(store.jobs.nextBatch(now + 60_000, 10).map((j) => j.dealId)).to.deep.equal([5n, 4n, 2n, 3n, 1n]);
  });

  it("the repairer runs at most maxRepairsPerIteration jobs per pass, riskiest first, until the queue is empty", async () => {
    const config = repairConfigSchema.parse({
      dataDir: dir,
      port: 0,
      rpcUrl: "http://127.0.0.1:8545",
      deployment: dir,
      maxRepairsPerIteration: 2,
    });
    const handedOver: bigint[] = [];
    const jobs = store.jobs;
    const handOver = jobs.handRebuiltToPlacement.bind(jobs);
    jobs.handRebuiltToPlacement = (id, dealId, rebuilt) => {
      handedOver.push(dealId);
      return handOver(id, dealId, rebuilt);
    };
    let wakes = 0;
    // Every lost piece is still held locally, so a run re-places them without a download: the
    // chain clients and contracts are never reached (left undefined on purpose).
    const components = {
      store,
      blobs: new BlobStore(join(dir, `blobs-${Math.random()}`)),
      clientStore,
      ledger: new RetrievalLedger(clientStore.db),
      logger: silentLogger,
      pool,
      wake: () => void wakes++,
    } as unknown as RepairComponents;
    const repairer = new Repairer(components, config);
    const passes: bigint[][] = [];
    for (let pass = 0; pass < 10 && store.jobs.list(["queued"]).length > 0; pass++) {
      const before = handedOver.length;
      await repairer.tick();
      passes.push(handedOver.slice(before));
    }
    expect(passes).to.deep.equal([[5n, 4n], [2n, 3n], [1n]]);
    for (const p of passes) expect(p.length, "repairs in one pass").to.be.at.most(config.maxRepairsPerIteration);
    expect(handedOver).to.deep.equal(RISK_ORDER);
    expect(store.jobs.list(["rebuilt"])).to.have.length(5);
    expect(store.pieces(5n).filter((p) => p.state === "pending" && p.mode === "reassign")).to.have.length(4);
    expect(wakes).to.equal(5);
  });

  it("defaults to a small positive bound and rejects zero", () => {
    const base = { dataDir: dir, port: 0, rpcUrl: "http://127.0.0.1:8545", deployment: dir };
    expect(repairConfigSchema.parse(base).maxRepairsPerIteration).to.equal(2);
    expect(() => repairConfigSchema.parse({ ...base, maxRepairsPerIteration: 0 })).to.throw();
  });
});
