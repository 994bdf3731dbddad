import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { request } from "undici";
import { join } from "node:path";
import type { Hex } from "viem";
import { paymentTokenAbi } from "../../../actors-ts/chain/generated/abis";
import { silentLogger } from "../../../actors-ts/core/logger";
import { ErasurePool } from "../../../actors-ts/erasure/erasure-pool";
import { StorageClient } from "../../../actors-ts/client/storage-client";
import { RetrievalClient } from "../../../actors-ts/client/retrieval/retrieval-client";
import type { RangeRetrievalResult } from "../../../actors-ts/client/retrieval/range-retriever";
import { RangeOutsideFileError, type ByteRange } from "../../../actors-ts/client/retrieval/range-plan";
import { CHUNK_PAYLOAD_BYTES } from "../../../actors-ts/piece/constants";
import type { Manifest } from "../../../actors-ts/manifest/manifest";
import { PROVIDER_PATHS, rangeProofResponseSchema } from "../../../actors-ts/protocol/provider-api";
import { startInProcessMarket, type InProcessMarket } from "./in-process-market";
import { FileRetriever } from "../../../actors-ts/client/retrieval/file-retriever";
import { listProviders, type RegisteredProvider } from "../../../actors-ts/chain/registry/reads";

const PRICE = 3n; // token base units per byte
const K = 4;
const M = 2;

/**
 * Byte ranges of a 4 + 2 file on six in-process provider daemons (real chain, HTTP, SQLite):
 * each range is written byte for byte, its fetches are paid exactly price × the bytes of the
 * spans they fetched, and that is less than a whole-file retrieval pays (price × k pieces).
 */
describe("client retrieve --range: byte ranges paid and verified where they lie", function () {
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
    // Pieces of about 1.3 MB: two 2^15-leaf chunks each, so spans meet chunk roots and range proofs.
    file = randomBytes(5 * 1024 * 1024 + 777);
    const path = join(market.dir, "file.bin");
    await writeFile(path, file);
    const stored = await new StorageClient({ clients, contracts, store, logger: silentLogger }).storeErasureCoded(
      path,
      { k: K, m: M, providers: market.providers, workDir: join(market.dir, "store-work"), pool },
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

  /** What a whole-file retrieval pays: price × the k pieces it fetches. */
  function wholeFilePrice(): bigint {
    return PRICE * BigInt(K * manifest.pieces[0].payloadSize);
  }

  /** Retrieves `range` into a file and checks the bytes and the payment. */
  async function retrieveChecked(range: ByteRange, name: string): Promise<RangeRetrievalResult> {
    const out = join(market.dir, name);
    const result = await retrieval.retrieveRange(droot, range, out);
    const back = await readFile(out);
    expect(back.length, name).to.equal(range.end - range.start + 1);
    expect(back.equals(file.subarray(range.start, range.end + 1)), `${name}: bytes differ`).to.equal(true);
    const fetchedBytes = result.fetches
      .filter((f) => f.status === "verified")
      .reduce((sum, f) => sum + (f.end - f.start), 0);
    expect(result.bytesFetched).to.equal(fetchedBytes);
    const paidFetches = result.fetches.filter((f) => f.status === "verified");
    expect(paidFetches.every((f) => f.pricePerByte === PRICE)).to.equal(true);
    expect(result.paid, `${name}: paid`).to.be.lessThan(wholeFilePrice());
    return result;
  }

  /** Every fetch verified and paid exactly price × its span. */
  function expectExactPayment(result: RangeRetrievalResult): void {
    expect(result.fetches.map((f) => f.status)).to.satisfy((s: string[]) => s.every((x) => x === "verified"));
    for (const f of result.fetches) expect(f.paid, `piece ${f.pieceIndex}`).to.equal(PRICE * BigInt(f.end - f.start));
    expect(result.paid).to.equal(PRICE * BigInt(result.bytesFetched));
  }

  it("the first 100 bytes come from piece 0 alone: one quad-rounded span, paid for 127 bytes", async () => {
    const result = await retrieveChecked({ start: 0, end: 99 }, "head.bin");
    expectExactPayment(result);
    expect(result.fetches.map((f) => [f.pieceIndex, f.start, f.end])).to.deep.equal([[0, 0, 127]]);
    expect(result.decodedPieces).to.deep.equal([]);
  });

  it("a long range from the start checks whole chunks against chunk roots and the rest by range proofs", async () => {
    const end = K * CHUNK_PAYLOAD_BYTES + 200_000; // more than one chunk of every data piece
    const result = await retrieveChecked({ start: 0, end }, "long-head.bin");
    expectExactPayment(result);
    expect(result.fetches.map((f) => f.pieceIndex).sort()).to.deep.equal([0, 1, 2, 3]);
    expect(result.fetches.every((f) => f.start === 0 && f.end > CHUNK_PAYLOAD_BYTES)).to.equal(true);
  });

  it("a range in the middle across a stripe boundary fetches only the shares that hold it", async () => {
    const stripe = K * manifest.shareSize;
    const range = { start: 5 * stripe - 2 * manifest.shareSize - 1000, end: 5 * stripe + 2000 };
    const result = await retrieveChecked(range, "middle.bin");
    expectExactPayment(result);
    // Stripe 4: the end of share 1, shares 2 and 3; stripe 5: the start of share 0.
    const spans = Object.fromEntries(result.fetches.map((f) => [f.pieceIndex, [f.start, f.end]]));
    expect(Object.keys(spans).sort()).to.deep.equal(["0", "1", "2", "3"]);
    expect(spans[0][0]).to.equal(5 * manifest.shareSize);
    expect(spans[0][1]).to.be.lessThan(5 * manifest.shareSize + 2000 + 127);
    expect(result.bytesFetched).to.be.lessThan(range.end - range.start + 1 + 4 * 2 * 127);
  });

  it("the last byte of the file", async () => {
    const result = await retrieveChecked({ start: file.length - 1, end: file.length - 1 }, "last.bin");
    expectExactPayment(result);
    expect(result.fetches).to.have.length(1);
    expect(result.bytesFetched).to.be.at.most(127);
  });

  it("the provider serves a range proof of whole quads for free, and refuses ranges outside the piece", async () => {
    const piece = manifest.pieces[0];
    const url = (query: string) => market.providerUrl(0) + PROVIDER_PATHS.pieceRangeProof(piece.pieceCid) + query;
    const ok = await request(url("?offset=1000&length=300"));
    expect(ok.statusCode).to.equal(200);
    const proof = rangeProofResponseSchema.parse(await ok.body.json());
    expect([proof.firstLeaf, proof.leafCount]).to.deep.equal([4 * 7, 4 * 4]); // quads 7 to 10
    expect(proof.left).to.have.length(proof.height);
    for (const bad of ["?offset=0&length=0", `?offset=${piece.payloadSize - 1}&length=2`, "?offset=-1&length=5", ""]) {
      const refused = await request(url(bad));
      expect(refused.statusCode, bad).to.equal(400);
      expect(((await refused.body.json()) as { error: string }).error).to.equal("InvalidRange");
    }
  });

  it("refuses a range outside the file in one line, before anything is paid", async () => {
    const token = { address: market.contracts.token, abi: paymentTokenAbi, functionName: "balanceOf" } as const;
    const before = await market.clients.public.readContract({ ...token, args: [market.clients.account.address] });
    const err = await retrieval
      .retrieveRange(droot, { start: file.length - 10, end: file.length }, join(market.dir, "outside.bin"))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).to.be.instanceOf(RangeOutsideFileError);
    const message = (err as RangeOutsideFileError).shortMessage;
    expect(message).to.not.include("\n");
    expect(message)
      .to.include(`${file.length - 10}-${file.length}`)
      .and.to.include(`${file.length} bytes`);
    const after = await market.clients.public.readContract({ ...token, args: [market.clients.account.address] });
    expect(after).to.equal(before);
  });

  it("a range whose data-piece holder is dead is decoded from the same bytes of k other pieces", async () => {
    const dead = 2;
    await market.stopProvider(dead);
    try {
      const stripe = K * manifest.shareSize;
      const range = {
        start: 3 * stripe + dead * manifest.shareSize + 500,
        end: 3 * stripe + dead * manifest.shareSize + 90_000,
      };
      const result = await retrieveChecked(range, "decoded.bin");
      expect(result.decodedPieces).to.deep.equal([dead]);
      expect(result.failedProviders.map((f) => f.provider)).to.include(market.providers[dead]);
      const verified = result.fetches.filter((f) => f.status === "verified");
      expect(new Set(verified.map((f) => f.pieceIndex)).size).to.equal(K);
      expect(verified.map((f) => f.pieceIndex)).to.not.include(dead);
      for (const f of verified) expect(f.paid).to.equal(PRICE * BigInt(f.end - f.start));
      expect(result.paid).to.equal(PRICE * BigInt(result.bytesFetched));
    } finally {
      await market.restartProvider(dead);
    }
  });

  it("a holder serving wrong bytes in a range is named with the evidence and its bytes rebuilt from others", async () => {
    const liar = 1;
    await market.restartProvider(liar, { faults: { corruptReads: true } });
    try {
      const range = { start: manifest.shareSize + 10, end: 3 * manifest.shareSize + 20 };
      const result = await retrieveChecked(range, "liar.bin");
      expect(result.corruptProviders.map((c) => [c.provider, c.pieceIndex])).to.deep.equal([
        [market.providers[liar], liar],
      ]);
      expect(result.corruptProviders[0].expected).to.equal(manifest.pieces[liar].root);
      expect(result.corruptProviders[0].actual).to.match(/^0x[0-9a-f]{64}$/);
      expect(result.decodedPieces).to.deep.equal([liar]);
      const liarFetch = result.fetches.find((f) => f.pieceIndex === liar);
      expect(liarFetch?.status).to.equal("failed");
      // What was paid to the liar is at most its span's price; every other fetch exactly its span.
      for (const f of result.fetches.filter((x) => x.status === "verified")) {
        expect(f.paid).to.equal(PRICE * BigInt(f.end - f.start));
      }
      expect(liarFetch?.paid ?? 0n).to.be.at.most(PRICE * BigInt((liarFetch?.end ?? 0) - (liarFetch?.start ?? 0)));
    } finally {
      await market.restartProvider(liar);
    }
  });

  it("a whole file into a stream: its first stripes are written before its pieces are all fetched", async () => {
    // Each piece is two chunks; at 128 KiB/s a piece's first chunk is verified seconds before
    // its last byte comes, and the file's first stripes need only the data pieces' first chunks.
    const total = K * manifest.pieces[0].payloadSize;
    let received = 0;
    let receivedAtFirstWrite: number | undefined;
    const written: Buffer[] = [];
    let commits = 0;
    const result = await retrieval.retrieveFile(droot, join(market.dir, "streamed.bin"), {
      maxBytesPerSecond: 128 * 1024,
      onBytes: (bytes) => (received += bytes),
      output: {
        async write(bytes) {
          receivedAtFirstWrite ??= received;
          written.push(Buffer.from(bytes));
        },
        async commit() {
          commits++;
        },
        async abort() {},
      },
    });
    expect(Buffer.concat(written).equals(file)).to.equal(true);
    expect(commits).to.equal(1);
    expect(result.piecesUsed.map((p) => p.pieceIndex).sort()).to.deep.equal([0, 1, 2, 3]);
    expect(receivedAtFirstWrite, "bytes received when the first bytes were written").to.be.lessThan(total);
  });

  it("a whole file into a stream that breaks: the retrieval stops with the write's error, not paying to the end", async () => {
    const total = K * manifest.pieces[0].payloadSize;
    let received = 0;
    const err = await retrieval
      .retrieveFile(droot, join(market.dir, "broken.bin"), {
        maxBytesPerSecond: 128 * 1024,
        onBytes: (bytes) => (received += bytes),
        output: {
          write: async () => Promise.reject(Object.assign(new Error("write EPIPE"), { code: "EPIPE" })),
          async commit() {},
          async abort() {},
        },
      })
      .then(
        () => undefined,
        (e: Error) => e,
      );
    expect(err?.message).to.equal("write EPIPE");
    expect(received, "bytes downloaded before the fetches stopped").to.be.lessThan(total);
  });

  it("when every holder the client knows fails, the registry is probed once, then, and its holders finish the file", async () => {
    const registered = await listProviders(market.clients, market.contracts);
    const byAddress = new Map(registered.map((p) => [p.address, p]));
    const holderOf = (i: number) => byAddress.get(market.providers[i]) as RegisteredProvider;
    // What the client knows: every piece "held", each by a provider that holds another piece.
    const known = new Map(manifest.pieces.map((_, i) => [i, [holderOf((i + 1) % (K + M))]]));
    await mkdir(join(market.dir, "probe-later"), { recursive: true });
    let probes = 0;
    const retriever = new FileRetriever({
      ...market,
      logger: silentLogger,
      pool,
      ledger: retrieval.ledger,
      workDir: market.dir,
    });
    const fetched = await retriever.fetchPieces({
      retrievalId: `probe-later-${Date.now()}`,
      manifest,
      holders: known,
      workDir: join(market.dir, "probe-later"),
      options: { stallTimeoutMs: 10_000 },
      onEvent: () => undefined,
      findMoreHolders: async () => {
        probes++;
        for (const [i, list] of known) list.push(holderOf(i));
        return true;
      },
    });
    expect(probes).to.equal(1);
    expect(fetched.failedProviders).to.have.length(K + M);
    expect(fetched.paths.filter(Boolean)).to.have.length(K);
  });
});
