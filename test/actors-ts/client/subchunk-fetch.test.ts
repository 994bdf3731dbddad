import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { silentLogger } from "../../../actors-ts/core/logger";
import { ErasurePool } from "../../../actors-ts/erasure/erasure-pool";
import { StorageClient } from "../../../actors-ts/client/storage-client";
import { listProviders, type RegisteredProvider } from "../../../actors-ts/chain/registry/reads";
import { PieceFetcher, type FetchTarget } from "../../../actors-ts/client/retrieval/piece-fetcher";
import { RetrievalLedger } from "../../../actors-ts/client/retrieval/retrieval-ledger";
import type { Manifest } from "../../../actors-ts/manifest/manifest";
import { subChunkPlanGeometry, type SubChunkPlan } from "../../../actors-ts/piece/subchunk-proof";
import { openRetrieval } from "../../../actors-ts/protocol/provider-client";
import { startInProcessMarket, type InProcessMarket } from "./in-process-market";

const PRICE = 2n; // token base units per byte

/**
 * A repair helper's paid sub-chunk plan (issue 21) from real provider daemons on the in-process
 * chain: the provider streams each stripe's planned sub-chunks and the roots of the others; the
 * client checks them against the piece commitment chunk by chunk and pays exactly price × the
 * plan's stream, which is about half the piece for β = α / 2.
 */
describe("paid sub-chunk plans: a helper's sub-chunks fetched, checked and paid", function () {
  this.timeout(300_000);
  let market: InProcessMarket;
  let manifest: Manifest;
  let file: Buffer;
  let holders: RegisteredProvider[];
  let fetcher: PieceFetcher;

  before(async () => {
    market = await startInProcessMarket(6, {
      retrievalAsk: { pricePerByte: PRICE, paymentIntervalBytes: 256n * 1024n, paymentIntervalIncreaseBytes: 0n },
    });
    const { clients, contracts, store } = market;
    const pool = new ErasurePool(2);
    try {
      const path = join(market.dir, "file.bin");
      // Twelve stripes of four 130,048-byte shares (1024 quads: eight sub-chunks of 128 quads each,
      // as Clay 4 + 2 has), so the pieces span two chunks.
      file = randomBytes(12 * 4 * 127 * 1024);
      await writeFile(path, file);
      const stored = await new StorageClient({ clients, contracts, store, logger: silentLogger }).storeErasureCoded(
        path,
        { k: 4, m: 2, providers: market.providers, workDir: join(market.dir, "store-work"), pool },
        { durationEpochs: 2000n, startDelayEpochs: 80n },
      );
      manifest = stored.manifest;
      expect(manifest.shareSize).to.equal(127 * 1024);
    } finally {
      await pool.close();
    }
    const registered = new Map((await listProviders(clients, contracts)).map((p) => [p.address, p]));
    holders = market.providers.map((a) => registered.get(a) as RegisteredProvider);
    fetcher = new PieceFetcher({ clients, contracts, ledger: new RetrievalLedger(store.db), logger: silentLogger });
  });

  after(async () => {
    await market?.close();
  });

  function planFor(index: number): SubChunkPlan {
    const stripes = manifest.pieces[index].payloadSize / manifest.shareSize;
    return {
      shareSize: manifest.shareSize,
      subChunkSize: manifest.shareSize / 8,
      planes: [1, 3, 5, 7],
      firstStripe: 0,
      stripes,
    };
  }

  function targetFor(index: number, plan: SubChunkPlan): FetchTarget {
    const piece = manifest.pieces[index];
    return {
      provider: holders[index],
      pieceIndex: index,
      pieceCid: piece.pieceCid,
      root: piece.root,
      payloadSize: piece.payloadSize,
      plan,
    };
  }

  it("streams the planned sub-chunks and the other roots, checked, paid exactly price × the stream", async () => {
    const index = 2;
    const plan = planFor(index);
    const geometry = subChunkPlanGeometry(plan, manifest.pieces[index].payloadSize);
    const out = join(market.dir, "plan-2.bin");
    const paid = await fetcher.fetch(`plan-${Date.now()}`, targetFor(index, plan), out);
    const stream = await readFile(out);
    expect(stream.length).to.equal(geometry.streamBytes);
    expect(paid).to.equal(PRICE * BigInt(geometry.streamBytes));
    expect(geometry.streamBytes / manifest.pieces[index].payloadSize).to.be.within(0.5, 0.51);
    // Each record starts with the planned sub-chunks, straight from the piece.
    for (let s = 0; s < plan.stripes; s++) {
      for (const [i, z] of plan.planes.entries()) {
        const sent = stream.subarray(
          s * geometry.recordBytes + i * plan.subChunkSize,
          s * geometry.recordBytes + (i + 1) * plan.subChunkSize,
        );
        // Data piece i's share of stripe s is the file's bytes at (s · k + i) · shareSize.
        const at = (s * manifest.k + index) * plan.shareSize + z * plan.subChunkSize;
        expect(sent.equals(file.subarray(at, at + plan.subChunkSize)), `stripe ${s} plane ${z}`).to.equal(true);
      }
    }
  });

  it("a whole-piece fetch after a plan's fetch from the same holder, under the same retrieval, fetches the whole piece", async () => {
    // What a repair does when its sub-chunk attempt falls back to k whole pieces: the plan's
    // recorded fetch (another stream, another file) must not be resumed as the piece's.
    const index = 3;
    const id = `fallback-${Date.now()}`;
    await fetcher.fetch(id, targetFor(index, planFor(index)), join(market.dir, "fallback-plan-3.bin"));
    const { plan: _plan, ...whole } = targetFor(index, planFor(index));
    const out = join(market.dir, "fallback-piece-3.bin");
    const paid = await fetcher.fetch(id, whole, out);
    const piece = await readFile(out);
    expect(piece.length).to.equal(manifest.pieces[index].payloadSize);
    const at = (s: number) => (s * manifest.k + index) * manifest.shareSize;
    const stripes = manifest.pieces[index].payloadSize / manifest.shareSize;
    for (let s = 0; s < stripes; s++) {
      const share = piece.subarray(s * manifest.shareSize, (s + 1) * manifest.shareSize);
      expect(share.equals(file.subarray(at(s), at(s) + manifest.shareSize)), `stripe ${s}`).to.equal(true);
    }
    expect(paid).to.equal(PRICE * BigInt(manifest.pieces[index].payloadSize));
  });

  it("a helper that corrupts what it sends is named with its piece and the chunk that failed", async () => {
    const liar = 1;
    await market.restartProvider(liar, { faults: { corruptReads: true } });
    try {
      // A restarted daemon may listen elsewhere: read its endpoint again.
      const registered = await listProviders(market.clients, market.contracts);
      holders[liar] = registered.find((p) => p.address === market.providers[liar]) as RegisteredProvider;
      const err = await fetcher
        .fetch(`plan-liar-${Date.now()}`, targetFor(liar, planFor(liar)), join(market.dir, "plan-liar.bin"))
        .then(
          () => undefined,
          (e: Error & { details?: Record<string, unknown> }) => e,
        );
      expect(err?.name).to.equal("PieceCommitmentMismatchError");
      expect(err?.details?.chunk).to.equal(0);
      expect(err?.details?.pieceIndex).to.equal(liar);
    } finally {
      await market.restartProvider(liar);
    }
  });

  it("the provider refuses a plan it could not let anyone check, in one line naming the rule", async () => {
    const plan = { ...planFor(0), firstStripe: 1, stripes: 2 };
    const err = await openRetrieval(market.clients.account, holders[0], {
      pieceCid: manifest.pieces[0].pieceCid,
      channelId: "0",
      plan,
    }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).to.match(/InvalidPlan.*start on a chunk boundary/);
  });
});
