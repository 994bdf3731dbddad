import { expect } from "chai";
import { randomBytes } from "node:crypto";
import {
  CHUNK_PAYLOAD_BYTES,
  CommPHasher,
  PieceTreeCache,
  commpOfBytes,
  type PayloadReader,
} from "../../../actors-ts/piece";
import {
  leavesOfPayload,
  proveRange,
  quadRunOf,
  rangeProofShape,
  rootFromRange,
  RangeProofShapeError,
  type QuadRun,
} from "../../../actors-ts/piece/range-proof";

function readerOf(payload: Uint8Array): PayloadReader {
  return async (offset, length) => payload.subarray(offset, offset + length);
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

/** The root a run's payload bytes and its proof lead to. */
function rootOfRun(payload: Uint8Array, run: QuadRun, height: number, proof: Awaited<ReturnType<typeof proveRange>>) {
  const bytes = payload.subarray(run.firstQuad * 127, (run.firstQuad + run.quadCount) * 127);
  return rootFromRange(leavesOfPayload(bytes), run.firstQuad * 4, height, proof);
}

describe("piece range proofs", () => {
  it("rounds byte ranges out to whole quads, clipped to the piece", () => {
    expect(quadRunOf(1000, 0, 1)).to.deep.equal({ firstQuad: 0, quadCount: 1 });
    expect(quadRunOf(1000, 126, 2)).to.deep.equal({ firstQuad: 0, quadCount: 2 });
    expect(quadRunOf(1000, 254, 127)).to.deep.equal({ firstQuad: 2, quadCount: 1 });
    expect(quadRunOf(1000, 999, 1)).to.deep.equal({ firstQuad: 7, quadCount: 1 });
    expect(() => quadRunOf(1000, 999, 2)).to.throw(/past the piece/);
    expect(() => quadRunOf(1000, 5, 0)).to.throw(/length ≥ 1/);
  });

  it("needs at most one node on each side per level, none for a whole aligned subtree", () => {
    const aligned = rangeProofShape(32, 32, 10);
    expect(aligned.left.filter((i) => i >= 0)).to.have.length(1); // the subtree's left neighbour at level 5
    expect(aligned.right.filter((i) => i >= 0)).to.have.length(4); // its ancestors' right neighbours
    const whole = rangeProofShape(0, 1024, 10);
    expect([...whole.left, ...whole.right].every((i) => i < 0)).to.equal(true);
  });

  it("proves every run of quads of a small piece, and nothing else", async () => {
    const payload = randomBytes(1300); // 11 quads, the last one short
    const { root, height } = commpOfBytes(payload);
    for (let first = 0; first < 11; first++) {
      for (let count = 1; first + count <= 11; count++) {
        const run = { firstQuad: first, quadCount: count };
        const proof = await proveRange(readerOf(payload), payload.length, run);
        expect(hex(rootOfRun(payload, run, height, proof)), `${first}+${count}`).to.equal(hex(root));
      }
    }
    const run = { firstQuad: 3, quadCount: 4 };
    const proof = await proveRange(readerOf(payload), payload.length, run);
    const tampered = Buffer.from(payload);
    tampered[3 * 127 + 200] ^= 1;
    expect(hex(rootOfRun(tampered, run, height, proof))).to.not.equal(hex(root));
    // The same nodes do not prove the run's bytes at another position.
    let moved: string | undefined;
    try {
      moved = hex(rootFromRange(leavesOfPayload(payload.subarray(3 * 127, 7 * 127)), 20, height, proof));
    } catch (err) {
      expect(err).to.be.instanceOf(RangeProofShapeError);
    }
    expect(moved).to.not.equal(hex(root));
  });

  it("proves runs inside, across and at the ends of chunks of a multi-chunk piece", async () => {
    const payload = randomBytes(3 * CHUNK_PAYLOAD_BYTES + 4242);
    const chunkRoots: Uint8Array[] = [];
    const commitment = new CommPHasher({ onChunkRoot: (_i, r) => chunkRoots.push(r) }).update(payload).digest();
    const cache = new PieceTreeCache(chunkRoots, commitment.height);
    const chunkQuads = CHUNK_PAYLOAD_BYTES / 127;
    const lastQuad = Math.ceil(payload.length / 127) - 1;
    const runs: QuadRun[] = [
      { firstQuad: 0, quadCount: 1 },
      { firstQuad: 1000, quadCount: 3000 },
      { firstQuad: chunkQuads - 5, quadCount: 10 },
      { firstQuad: chunkQuads, quadCount: chunkQuads },
      { firstQuad: chunkQuads + 77, quadCount: chunkQuads + 100 },
      { firstQuad: lastQuad, quadCount: 1 },
      { firstQuad: 0, quadCount: lastQuad + 1 },
    ];
    for (const run of runs) {
      const proof = await proveRange(readerOf(payload), payload.length, run, cache);
      expect(hex(rootOfRun(payload, run, commitment.height, proof)), JSON.stringify(run)).to.equal(
        hex(commitment.root),
      );
    }
  });

  it("refuses a proof that lacks a node the run needs", async () => {
    const payload = randomBytes(5000);
    const { height } = commpOfBytes(payload);
    const run = { firstQuad: 5, quadCount: 3 };
    const proof = await proveRange(readerOf(payload), payload.length, run);
    const slot = proof.left.findIndex((n) => n !== undefined);
    proof.left[slot] = undefined;
    expect(() => rootOfRun(payload, run, height, proof)).to.throw(RangeProofShapeError);
  });
});
