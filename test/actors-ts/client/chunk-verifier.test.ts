import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { toHex } from "viem";
import { ErasurePool } from "../../../actors-ts/erasure/erasure-pool";
import { CommPHasher } from "../../../actors-ts/piece/commp";
import { CHUNK_PAYLOAD_BYTES } from "../../../actors-ts/piece/constants";
import {
  ChunkVerifier,
  PieceCommitmentMismatchError,
  type CheckedPiece,
} from "../../../actors-ts/client/retrieval/chunk-verifier";

/** A piece of `size` random payload bytes with its commitment and chunk roots. */
function pieceOf(size: number): { payload: Buffer; target: CheckedPiece; chunkRoots: Uint8Array[] } {
  const payload = randomBytes(size);
  const chunkRoots: Uint8Array[] = [];
  const commp = new CommPHasher({ onChunkRoot: (_i, root) => chunkRoots.push(root) }).update(payload).digest();
  return {
    payload,
    chunkRoots,
    target: {
      provider: { address: "0x00000000000000000000000000000000000000aa", endpoint: "http://127.0.0.1:1" },
      pieceIndex: 3,
      pieceCid: commp.pieceCid,
      root: toHex(commp.root),
      payloadSize: size,
    },
  };
}

/** Pushes `payload` from `from` in `step`-byte network chunks; the offsets verified after each, then settled. */
async function feed(verifier: ChunkVerifier, payload: Buffer, from: number, step: number): Promise<number[]> {
  const seen: number[] = [];
  for (let at = from; at < payload.length; at += step) {
    seen.push(await verifier.push(payload.subarray(at, Math.min(payload.length, at + step))));
  }
  seen.push(await verifier.settle());
  return seen;
}

/**
 * Chunk checks of a whole-piece fetch (decision 47): with a pool the 2^15-leaf chunks are hashed
 * on its workers, a few at a time, and must accept and refuse exactly what the in-thread check
 * does, never reporting bytes verified before their chunk's root matched.
 */
describe("ChunkVerifier: chunk checks on the worker pool", function () {
  this.timeout(120_000);
  let pool: ErasurePool;
  // 3.5 chunks: three whole chunks and a short, zero-padded last one.
  const size = 3 * CHUNK_PAYLOAD_BYTES + CHUNK_PAYLOAD_BYTES / 2 + 1;
  const piece = pieceOf(size);

  before(() => {
    pool = new ErasurePool(2);
  });
  after(async () => {
    await pool.close();
  });

  it("verifies an honest piece to its end, on the pool as on the caller's thread, only at chunk ends", async () => {
    for (const p of [pool, undefined]) {
      const seen = await feed(new ChunkVerifier(piece.target, piece.chunkRoots, p), piece.payload, 0, 65_536);
      expect(seen.at(-1)).to.equal(size);
      const ends = [1, 2, 3].map((c) => c * CHUNK_PAYLOAD_BYTES).concat(size);
      for (const offset of seen) expect([0, ...ends]).to.include(offset);
      // Offsets only grow.
      expect([...seen].sort((a, b) => a - b)).to.deep.equal(seen);
    }
  });

  it("resumes at a chunk boundary", async () => {
    const from = 2 * CHUNK_PAYLOAD_BYTES;
    const verifier = new ChunkVerifier(piece.target, piece.chunkRoots, pool).startAt(from);
    const seen = await feed(verifier, piece.payload, from, 300_001);
    expect(seen[0]).to.equal(from);
    expect(seen.at(-1)).to.equal(size);
  });

  it("refuses a piece with one wrong byte in chunk 2, naming it, and never verifies past chunk 2's start", async () => {
    for (const p of [pool, undefined]) {
      const tampered = Buffer.from(piece.payload);
      tampered[2 * CHUNK_PAYLOAD_BYTES + 12_345] ^= 1;
      const verifier = new ChunkVerifier(piece.target, piece.chunkRoots, p);
      const seen: number[] = [];
      let caught: unknown;
      try {
        for (let at = 0; at < size; at += 65_536) seen.push(await verifier.push(tampered.subarray(at, at + 65_536)));
        await verifier.settle();
      } catch (err) {
        caught = err;
      }
      expect(caught).to.be.instanceOf(PieceCommitmentMismatchError);
      const details = (caught as PieceCommitmentMismatchError).details;
      expect(details.chunk).to.equal(2);
      expect(details.pieceIndex).to.equal(3);
      expect(Math.max(0, ...seen)).to.be.at.most(2 * CHUNK_PAYLOAD_BYTES);
    }
  });

  it("refuses a short last chunk that is wrong, and chunk roots that are not the piece's", async () => {
    const tampered = Buffer.from(piece.payload);
    tampered[size - 1] ^= 0x80;
    let caught: unknown = await feed(
      new ChunkVerifier(piece.target, piece.chunkRoots, pool),
      tampered,
      0,
      1 << 20,
    ).catch((err: unknown) => err);
    expect((caught as PieceCommitmentMismatchError).details.chunk).to.equal(3);
    const other = pieceOf(size);
    caught = await feed(new ChunkVerifier(piece.target, other.chunkRoots, pool), piece.payload, 0, 1 << 20).catch(
      (err: unknown) => err,
    );
    expect(caught).to.be.instanceOf(PieceCommitmentMismatchError);
    expect((caught as PieceCommitmentMismatchError).details.chunk).to.equal(0);
  });

  it("refuses bytes past the end of the piece as evidence, on the pool as on the caller's thread", async () => {
    for (const p of [pool, undefined]) {
      const longer = Buffer.concat([piece.payload, Buffer.alloc(10, 1)]);
      const caught = await feed(new ChunkVerifier(piece.target, piece.chunkRoots, p), longer, 0, 1 << 20).catch(
        (err: unknown) => err,
      );
      expect(caught).to.be.instanceOf(PieceCommitmentMismatchError);
      expect((caught as Error).message).to.match(/more bytes than the piece holds/);
    }
  });

  it("fails with the pool's error, not a verified offset, when the pool is closed under it", async () => {
    const closing = new ErasurePool(1);
    await closing.close();
    const caught = await feed(
      new ChunkVerifier(piece.target, piece.chunkRoots, closing),
      piece.payload,
      0,
      1 << 20,
    ).catch((err: unknown) => err);
    expect((caught as Error).message).to.match(/erasure pool closed/);
  });
});
