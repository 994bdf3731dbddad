import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Hex } from "viem";
import { silentLogger } from "../../../actors-ts/core/logger";
import { ErasurePool } from "../../../actors-ts/erasure/erasure-pool";
import { StorageClient } from "../../../actors-ts/client/storage-client";
import { RetrievalClient } from "../../../actors-ts/client/retrieval/retrieval-client";
import type { Manifest } from "../../../actors-ts/manifest/manifest";
import { startInProcessMarket, type InProcessMarket } from "./in-process-market";

const PRICE = 3n; // token base units per byte
const K = 4;
const M = 2;

/**
 * A Clay 4 + 2 file on six in-process provider daemons: ranges and the whole file come back byte
 * for byte, and with a data piece's holder dead its bytes are decoded from k other pieces' whole
 * shares of the stripes that hold the range (a Clay share depends on every sub-chunk plane).
 */
describe("client retrieve of a Clay file: ranges and the whole file, with a dead data holder", function () {
  this.timeout(300_000);
  let market: InProcessMarket;
  let pool: ErasurePool;
  let retrieval: RetrievalClient;
  let file: Buffer;
  let droot: Hex;
  let manifest: Manifest;

  before(async () => {
    market = await startInProcessMarket(K + M, {
      retrievalAsk: { pricePerByte: PRICE, paymentIntervalBytes: 256n * 1024n, paymentIntervalIncreaseBytes: 0n },
    });
    const { clients, contracts, store } = market;
    pool = new ErasurePool(2);
    file = randomBytes(900_001);
    const path = join(market.dir, "clay.bin");
    await writeFile(path, file);
    const stored = await new StorageClient({ clients, contracts, store, logger: silentLogger }).storeErasureCoded(
      path,
      {
        k: K,
        m: M,
        coding: { scheme: "clay", d: 5 },
        providers: market.providers,
        workDir: join(market.dir, "store-work"),
        pool,
      },
      { durationEpochs: 2000n, startDelayEpochs: 80n },
    );
    droot = stored.droot;
    manifest = stored.manifest;
    retrieval = new RetrievalClient({ clients, contracts, store, logger: silentLogger, pool, workDir: market.dir });
  });

  after(async () => {
    await pool?.close();
    await market?.close();
  });

  it("the manifest is a Clay one with several stripes", () => {
    expect(manifest.coding).to.deep.equal({ scheme: "clay", d: 5 });
    expect(manifest.pieces[0].payloadSize / manifest.shareSize).to.be.greaterThan(2);
  });

  it("a range from live data holders is read directly, nothing decoded", async () => {
    const range = { start: manifest.shareSize - 100, end: 2 * manifest.shareSize + 50 };
    const out = join(market.dir, "direct.bin");
    const result = await retrieval.retrieveRange(droot, range, out);
    expect((await readFile(out)).equals(file.subarray(range.start, range.end + 1))).to.equal(true);
    expect(result.decodedPieces).to.deep.equal([]);
  });

  it("with data piece 1's holder dead: a range across two stripes is decoded from k pieces' whole shares", async () => {
    const dead = 1;
    await market.stopProvider(dead);
    try {
      const stripe = K * manifest.shareSize;
      // The end of piece 1's share in stripe 1, then into stripe 2 up to its piece 1's share.
      const range = { start: stripe + manifest.shareSize + 300, end: 2 * stripe + manifest.shareSize + 700 };
      const out = join(market.dir, "decoded.bin");
      const result = await retrieval.retrieveRange(droot, range, out);
      expect((await readFile(out)).equals(file.subarray(range.start, range.end + 1))).to.equal(true);
      expect(result.decodedPieces).to.deep.equal([dead]);
      const verified = result.fetches.filter((f) => f.status === "verified");
      expect(verified.map((f) => f.pieceIndex)).to.not.include(dead);
      // The decode sources cover whole shares: stripes 1 and 2 of the pieces used.
      const covered = (i: number) =>
        verified.filter((f) => f.pieceIndex === i).some((f) => f.start <= manifest.shareSize) &&
        verified.filter((f) => f.pieceIndex === i).some((f) => f.end >= 3 * manifest.shareSize);
      expect([0, 2, 3, 4, 5].filter(covered).length).to.be.at.least(K);
      expect(result.paid).to.equal(PRICE * BigInt(result.bytesFetched));

      const whole = join(market.dir, "whole.bin");
      await retrieval.retrieveFile(droot, whole);
      expect((await readFile(whole)).equals(file)).to.equal(true);
    } finally {
      await market.restartProvider(dead);
    }
  });
});
