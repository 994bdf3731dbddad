import { expect } from "chai";
import { randomBytes } from "node:crypto";
import {
  CHUNK_PAYLOAD_BYTES,
  CommPHasher,
  PieceTreeCache,
  commpOfBytes,
  proveLeaf,
  rootFromProof,
  zeroPieceProof,
  zeroRoot,
  type PayloadReader,
} from "../../../actors-ts/piece";

function readerOf(payload: Uint8Array): PayloadReader {
  return async (offset, length) => payload.subarray(offset, offset + length);
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

describe("piece proofs", () => {
  describe("proveLeaf", () => {
    it("proves every leaf of a small piece", async () => {
      const payload = randomBytes(1000);
      const { root, height } = commpOfBytes(payload);
      for (let leaf = 0; leaf < 2 ** height; leaf++) {
        const proof = await proveLeaf(readerOf(payload), payload.length, leaf);
        expect(proof.siblings).to.have.length(height);
        expect(hex(rootFromProof(proof))).to.equal(hex(root));
      }
    });

    it("proves leaves across chunks of a multi-chunk piece using the cached upper tree", async () => {
      const payload = randomBytes(3 * CHUNK_PAYLOAD_BYTES + 4242);
      const chunkRoots: Uint8Array[] = [];
      const commitment = new CommPHasher({ onChunkRoot: (_i, r) => chunkRoots.push(r) }).update(payload).digest();
      const cache = PieceTreeCache.deserialize(
        new PieceTreeCache(chunkRoots, commitment.height).serialize(),
        commitment.height,
      );
      expect(hex(cache.root)).to.equal(hex(commitment.root));
      const lastDataLeaf = Math.ceil(payload.length / 127) * 4 - 1;
      for (const leaf of [0, 1, 32_767, 32_768, 98_303, lastDataLeaf, lastDataLeaf + 1, 2 ** commitment.height - 1]) {
        const proof = await proveLeaf(readerOf(payload), payload.length, leaf, cache);
        expect(proof.siblings).to.have.length(commitment.height);
        expect(hex(rootFromProof(proof)), `leaf ${leaf}`).to.equal(hex(commitment.root));
      }
    });

    it("produces a proof that fails after one bit of the leaf or a sibling flips", async () => {
      const payload = randomBytes(20_000);
      const { root } = commpOfBytes(payload);
      const proof = await proveLeaf(readerOf(payload), payload.length, 77);
      proof.leaf[3] ^= 1;
      expect(hex(rootFromProof(proof))).to.not.equal(hex(root));
      proof.leaf[3] ^= 1;
      proof.siblings[4][0] ^= 0x80;
      expect(hex(rootFromProof(proof))).to.not.equal(hex(root));
    });

    it("rejects indices outside the piece and large pieces without a cache", async () => {
      const payload = randomBytes(500);
      await expectRejection(proveLeaf(readerOf(payload), 500, 16), /outside the piece/);
      await expectRejection(proveLeaf(readerOf(payload), 500, -1), /outside the piece/);
      const big = randomBytes(CHUNK_PAYLOAD_BYTES + 1);
      await expectRejection(proveLeaf(readerOf(big), big.length, 0), /PieceTreeCache/);
    });

    it("names the offset when the payload is shorter than recorded", async () => {
      const payload = randomBytes(300);
      await expectRejection(proveLeaf(readerOf(payload), 400, 0), /payload shorter/);
    });
  });

  describe("zeroPieceProof", () => {
    it("proves any leaf of an all-zero piece", () => {
      const proof = zeroPieceProof(30, 123_456_789);
      expect(hex(rootFromProof(proof))).to.equal(hex(zeroRoot(30)));
    });
  });
});

async function expectRejection(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await promise;
  } catch (err) {
    expect((err as Error).message).to.match(pattern);
    return;
  }
  expect.fail(`expected a rejection matching ${pattern}`);
}
