import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { toHex } from "viem";
import { silentLogger } from "../../../actors-ts/core/logger";
import { StorageClient } from "../../../actors-ts/client/storage-client";
import { listProviders, type RegisteredProvider } from "../../../actors-ts/chain/registry/reads";
import { PieceFetcher } from "../../../actors-ts/client/retrieval/piece-fetcher";
import { RetrievalLedger } from "../../../actors-ts/client/retrieval/retrieval-ledger";
import {
  rebuildFromSubChunks,
  type RepairPiece,
  type SubChunkRepairRequest,
} from "../../../actors-ts/client/retrieval/subchunk-repair";
import { clayEncode, clayParams } from "../../../actors-ts/erasure/clay";
import { commpOfBytes } from "../../../actors-ts/piece";
import { startInProcessMarket, type InProcessMarket } from "./in-process-market";

const PRICE = 1n;
const SHARE = 127 * 1024; // α = 8 sub-chunks of 16,256 bytes (Clay 4 + 2, d = 5)
const STRIPES = 10;

/**
 * A Clay 4 + 2 piece rebuilt from its five helpers' sub-chunks (issue 21), on real provider
 * daemons and the in-process chain: each helper sends half its piece (β / α = 4 / 8) plus root-block roots,
 * checked against its commitment and paid; the rebuilt piece is byte-identical, so its CommP is the
 * lost one's. A lying helper is named, and with no other holder the repair says to decode from k
 * whole pieces.
 */
describe("Clay repair from d helpers' sub-chunks: 2.5 pieces downloaded, every byte checked", function () {
  this.timeout(300_000);
  const params = clayParams(4, 2);
  let market: InProcessMarket;
  let pieces: Buffer[];
  let manifestPieces: RepairPiece[];
  let fetcher: PieceFetcher;

  before(async () => {
    market = await startInProcessMarket(6, {
      retrievalAsk: { pricePerByte: PRICE, paymentIntervalBytes: 512n * 1024n, paymentIntervalIncreaseBytes: 0n },
    });
    const { clients, contracts, store } = market;
    // The file's stripes, Clay-encoded share by share: piece i is share i of every stripe.
    const file = randomBytes(STRIPES * 4 * SHARE);
    const shares: Uint8Array[][] = Array.from({ length: 6 }, () => []);
    for (let s = 0; s < STRIPES; s++) {
      const data = [0, 1, 2, 3].map((i) => file.subarray((s * 4 + i) * SHARE, (s * 4 + i + 1) * SHARE));
      const parity = clayEncode(params, data, SHARE / params.alpha);
      [...data, ...parity].forEach((share, i) => shares[i].push(share));
    }
    pieces = shares.map((list) => Buffer.concat(list));
    manifestPieces = pieces.map((p) => {
      const c = commpOfBytes(p);
      return { pieceCid: c.pieceCid, root: toHex(c.root), payloadSize: p.length };
    });
    const client = new StorageClient({ clients, contracts, store, logger: silentLogger });
    await mkdir(join(market.dir, "clay"), { recursive: true });
    for (const [i, piece] of pieces.entries()) {
      const path = join(market.dir, "clay", `piece-${i}`);
      await writeFile(path, piece);
      await client.storeFile(path, { provider: market.providers[i], durationEpochs: 2000n, startDelayEpochs: 80n });
    }
    // A second copy of piece 3, with provider 5: another holder to turn to when piece 3's lies.
    const copy = join(market.dir, "clay", "piece-3");
    await client.storeFile(copy, { provider: market.providers[5], durationEpochs: 2000n, startDelayEpochs: 80n });
    fetcher = new PieceFetcher({ clients, contracts, ledger: new RetrievalLedger(store.db), logger: silentLogger });
  });

  after(async () => {
    await market?.close();
  });

  /** Piece i's holder is provider i; with `secondHolderOf3`, provider 5 holds piece 3 too. */
  async function requestFor(lostIndex: number, name: string, secondHolderOf3 = false): Promise<SubChunkRepairRequest> {
    const registered = new Map((await listProviders(market.clients, market.contracts)).map((p) => [p.address, p]));
    const holder = (i: number) => registered.get(market.providers[i]) as RegisteredProvider;
    const holders = new Map(
      market.providers.map((_, i) => [
        i,
        i === lostIndex ? [] : i === 3 && secondHolderOf3 ? [holder(3), holder(5)] : [holder(i)],
      ]),
    );
    const workDir = join(market.dir, name);
    await mkdir(workDir, { recursive: true });
    return {
      retrievalId: `${name}-${Date.now()}`,
      params,
      lostIndex,
      shareSize: SHARE,
      subChunkSize: SHARE / params.alpha,
      pieces: manifestPieces,
      holders,
      workDir,
    };
  }

  it("rebuilds a lost data piece and a lost parity piece byte for byte from 2.5 pieces' worth of bytes", async () => {
    for (const lost of [0, 5]) {
      const result = await rebuildFromSubChunks(fetcher, await requestFor(lost, `repair-${lost}`));
      expect((await readFile(result.path)).equals(pieces[lost]), `piece ${lost}`).to.equal(true);
      expect(result.helpers.map((h) => h.pieceIndex).sort()).to.deep.equal(
        [0, 1, 2, 3, 4, 5].filter((i) => i !== lost),
      );
      expect(result.bytesDownloaded).to.equal(result.bytesUsed);
      const downloaded = result.bytesDownloaded / pieces[lost].length;
      // d · β / α = 2.5 pieces, plus one to four 32-byte root-block roots per helper and stripe (≤ 0.2 %).
      expect(downloaded).to.be.within(2.5, 2.51);
      expect(result.corrupt).to.deep.equal([]);
    }
  });

  it("a helper sending wrong sub-chunks is named with its chunk and replaced by another holder: repaired anyway", async () => {
    const liar = 3;
    // From here on provider 3 corrupts what it serves (the tests below are the file's last).
    await market.restartProvider(liar, { faults: { corruptReads: true } });
    const result = await rebuildFromSubChunks(fetcher, await requestFor(0, "repair-replaced", true));
    expect((await readFile(result.path)).equals(pieces[0])).to.equal(true);
    expect(result.corrupt.map((c) => [c.provider, c.pieceIndex, c.chunk])).to.deep.equal([
      [market.providers[liar], liar, 0],
    ]);
    expect(result.helpers).to.deep.include({ pieceIndex: liar, provider: market.providers[5] });
    // The five plans used are 2.5 pieces; the liar's bytes, received until its first chunk failed, come on top.
    expect(result.bytesUsed / pieces[0].length).to.be.within(2.5, 2.51);
    expect(result.bytesDownloaded).to.be.greaterThan(result.bytesUsed);
  });

  it("with no other holder for the liar's piece, the repair says to decode from k whole pieces, naming the liar", async () => {
    const liar = 3;
    const err = await rebuildFromSubChunks(fetcher, await requestFor(0, "repair-liar")).then(
      () => undefined,
      (e: Error & { details?: Record<string, unknown> }) => e,
    );
    expect(err?.name).to.equal("NotEnoughHelpersError");
    expect(err?.message).to.include("decode it from k whole pieces");
    expect(String(err?.details?.failures)).to.include(`${market.providers[liar]} piece ${liar}: corrupt (chunk 0)`);
  });
});
