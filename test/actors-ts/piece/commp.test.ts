import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CHUNK_PAYLOAD_BYTES,
  ChunkRootHasher,
  CommPHasher,
  commpOfBytes,
  commpOfFile,
  fr32PadQuads,
  fr32UnpadQuads,
  parsePieceCidV2,
  pieceGeometry,
  toPieceCidV2,
} from "../../../actors-ts/piece";
import { importEsm } from "../../helpers/esm";

interface DataSegment {
  Piece: { fromPayload(bytes: Uint8Array): { root: Uint8Array; height: number; link: { toString(): string } } };
}

const MiB = 1 << 20;
// Edge sizes: empty, sub-quad, one quad, quad + 1, the FRC-0069 examples, chunk boundaries, 2^20 ± 1.
const SIZES = [
  0,
  1,
  64,
  65,
  126,
  127,
  128,
  253,
  254,
  255,
  1016,
  1017,
  4096,
  65_000,
  CHUNK_PAYLOAD_BYTES - 1,
  CHUNK_PAYLOAD_BYTES,
  CHUNK_PAYLOAD_BYTES + 1,
  MiB - 1,
  MiB,
  MiB + 1,
  2 * CHUNK_PAYLOAD_BYTES + 17,
  4 * MiB,
];

describe("piece commitment (CommP)", () => {
  let dataSegment: DataSegment;
  before(async () => {
    dataSegment = await importEsm<DataSegment>("@web3-storage/data-segment");
  });

  describe("commpOfBytes", () => {
    for (const size of SIZES) {
      it(`matches @web3-storage/data-segment for ${size} random bytes`, () => {
        const payload = randomBytes(size);
        const ours = commpOfBytes(payload);
        const theirs = dataSegment.Piece.fromPayload(payload);
        expect(Buffer.from(ours.root).toString("hex")).to.equal(Buffer.from(theirs.root).toString("hex"));
        expect(ours.height).to.equal(theirs.height);
        expect(ours.pieceCid).to.equal(theirs.link.toString());
        expect(ours.payloadSize).to.equal(size);
        expect(ours.paddedSize).to.equal(32 * 2 ** theirs.height);
      });
    }

    it("matches for 6 random sizes up to 4 MiB", () => {
      for (let i = 0; i < 6; i++) {
        const size = Math.floor(Math.random() * 4 * MiB);
        const payload = randomBytes(size);
        expect(commpOfBytes(payload).pieceCid, `size ${size}`).to.equal(
          dataSegment.Piece.fromPayload(payload).link.toString(),
        );
      }
    });

    it("distinguishes payloads that differ in one byte", () => {
      const payload = randomBytes(5000);
      const before = commpOfBytes(payload).root;
      payload[4321] ^= 1;
      expect(Buffer.from(commpOfBytes(payload).root).equals(Buffer.from(before))).to.equal(false);
    });
  });

  describe("CommPHasher", () => {
    it("gives the same root whatever the write sizes", () => {
      const payload = randomBytes(3 * CHUNK_PAYLOAD_BYTES + 999);
      const oneShot = commpOfBytes(payload);
      const hasher = new CommPHasher();
      let offset = 0;
      for (const step of [1, 126, 127, 128, 65_537, CHUNK_PAYLOAD_BYTES, 3]) {
        hasher.update(payload.subarray(offset, offset + step));
        offset += step;
      }
      hasher.update(payload.subarray(offset));
      expect(hasher.digest().pieceCid).to.equal(oneShot.pieceCid);
    });

    it("refuses writes after digest", () => {
      const hasher = new CommPHasher();
      hasher.digest();
      expect(() => hasher.update(new Uint8Array(1))).to.throw(/after digest/);
    });

    it("reports every chunk root, the last one zero-padded", () => {
      const roots: number[] = [];
      const hasher = new CommPHasher({ onChunkRoot: (i) => roots.push(i) });
      hasher.update(randomBytes(2 * CHUNK_PAYLOAD_BYTES + 5));
      hasher.digest();
      expect(roots).to.deep.equal([0, 1, 2]);
    });
  });

  describe("commpOfFile", () => {
    it("streams a file to the same commitment as its bytes", async () => {
      const dir = await mkdtemp(join(tmpdir(), "commp-"));
      try {
        const payload = randomBytes(2 * MiB + 3);
        await writeFile(join(dir, "piece"), payload);
        expect((await commpOfFile(join(dir, "piece"))).pieceCid).to.equal(commpOfBytes(payload).pieceCid);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });

  describe("pieceGeometry", () => {
    it("rounds leaves up to a power of two with a 128-byte minimum", () => {
      expect(pieceGeometry(0)).to.include({ paddedSize: 128, height: 2 });
      expect(pieceGeometry(127)).to.include({ paddedSize: 128, height: 2 });
      expect(pieceGeometry(128)).to.include({ paddedSize: 256, height: 3 });
      expect(pieceGeometry(127 * 1024)).to.include({ paddedSize: 128 * 1024, height: 12 });
      expect(pieceGeometry(127 * 1024 + 1)).to.include({ paddedSize: 256 * 1024, height: 13 });
    });
  });

  describe("PieceCID v2", () => {
    it("round-trips root, height and payload size", () => {
      const payload = randomBytes(100_000);
      const commitment = commpOfBytes(payload);
      const parts = parsePieceCidV2(commitment.pieceCid);
      expect(Buffer.from(parts.root).equals(Buffer.from(commitment.root))).to.equal(true);
      expect(parts.height).to.equal(commitment.height);
      expect(parts.payloadSize).to.equal(100_000);
      expect(parts.paddedSize).to.equal(commitment.paddedSize);
      expect(toPieceCidV2(parts.root, parts.payloadSize)).to.equal(commitment.pieceCid);
    });

    it("rejects strings that are not PieceCID v2", () => {
      expect(() => parsePieceCidV2("hello")).to.throw(/not a CID/);
      // A CIDv1 of the raw codec with a sha2-256 multihash.
      expect(() => parsePieceCidV2("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy")).to.throw(
        /not a PieceCID v2/,
      );
    });

    it("rejects a root that is not 32 bytes", () => {
      expect(() => toPieceCidV2(new Uint8Array(31), 10)).to.throw(/32 bytes/);
    });
  });

  describe("fr32", () => {
    it("unpads what it padded and clears the top two bits of every leaf", () => {
      const quads = 50;
      const payload = randomBytes(quads * 127);
      const padded = new Uint8Array(quads * 128);
      fr32PadQuads(payload, 0, quads, padded, 0);
      for (let leaf = 31; leaf < padded.length; leaf += 32) expect(padded[leaf] & 0xc0).to.equal(0);
      const back = new Uint8Array(quads * 127);
      fr32UnpadQuads(padded, 0, quads, back, 0);
      expect(Buffer.from(back).equals(payload)).to.equal(true);
    });
  });

  describe("ChunkRootHasher", () => {
    it("gives every chunk the root CommPHasher reports for it: full chunks and a short last one, reusing its buffers", () => {
      const payload = randomBytes(3 * CHUNK_PAYLOAD_BYTES + 12_345);
      const reported: string[] = [];
      new CommPHasher({ onChunkRoot: (_i, r) => reported.push(Buffer.from(r).toString("hex")) })
        .update(payload)
        .digest();
      const hasher = new ChunkRootHasher();
      const roots: string[] = [];
      for (let start = 0; start < payload.length; start += CHUNK_PAYLOAD_BYTES) {
        const chunk = payload.subarray(start, Math.min(payload.length, start + CHUNK_PAYLOAD_BYTES));
        roots.push(Buffer.from(hasher.root(chunk)).toString("hex"));
      }
      expect(roots).to.deep.equal(reported);
      expect(roots.length).to.equal(4);
      // A short chunk after a full one: no bytes of the earlier chunk leak into it.
      expect(Buffer.from(hasher.root(payload.subarray(0, 100))).toString("hex")).to.equal(
        (() => {
          let first = "";
          new CommPHasher({ onChunkRoot: (_i, r) => (first ||= Buffer.from(r).toString("hex")) })
            .update(payload.subarray(0, 100))
            .digest();
          return first;
        })(),
      );
      expect(() => hasher.root(new Uint8Array(CHUNK_PAYLOAD_BYTES + 1))).to.throw(/longer than a chunk/);
    });
  });
});
