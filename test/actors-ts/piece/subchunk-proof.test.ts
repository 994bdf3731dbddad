import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { CommPHasher } from "../../../actors-ts/piece/commp";
import {
  SubChunkPlanVerifier,
  subChunkPlanGeometry,
  rootBlocks,
  subChunkRecord,
  type SubChunkPlan,
} from "../../../actors-ts/piece/subchunk-proof";

/** A piece's payload, its CommP root and its chunk roots (as a provider's tree endpoint serves them). */
function pieceOf(payloadSize: number) {
  const payload = randomBytes(payloadSize);
  const chunkRoots: Uint8Array[] = [];
  const commp = new CommPHasher({ onChunkRoot: (_i, root) => chunkRoots.push(root.slice()) }).update(payload).digest();
  return { payload, root: commp.root, chunkRoots, height: commp.height };
}

/** The plan's stream as an honest helper builds it. */
function streamOf(payload: Uint8Array, plan: SubChunkPlan): Buffer {
  const records: Uint8Array[] = [];
  const geometry = subChunkPlanGeometry(plan, payload.length);
  for (let s = plan.firstStripe; s < plan.firstStripe + plan.stripes; s++) {
    records.push(subChunkRecord(payload.subarray(s * plan.shareSize, (s + 1) * plan.shareSize), plan, geometry));
  }
  return Buffer.concat(records);
}

/** What the plan's sub-chunks are, straight from the piece. */
function expectedSent(payload: Uint8Array, plan: SubChunkPlan): Buffer {
  const out: Uint8Array[] = [];
  for (let s = plan.firstStripe; s < plan.firstStripe + plan.stripes; s++) {
    for (const z of plan.planes) {
      const at = s * plan.shareSize + z * plan.subChunkSize;
      out.push(payload.subarray(at, at + plan.subChunkSize));
    }
  }
  return Buffer.concat(out);
}

/** Feeds `stream` in uneven slices; returns the released sub-chunks and the stripes' order. */
function verify(piece: ReturnType<typeof pieceOf>, plan: SubChunkPlan, stream: Uint8Array) {
  const released: Uint8Array[] = [];
  const stripes: number[] = [];
  const checked = (i: number) => (piece.height <= 15 ? piece.root : piece.chunkRoots[i]);
  const verifier = new SubChunkPlanVerifier(plan, piece.payload.length, checked, (stripe, sent) => {
    stripes.push(stripe);
    released.push(sent);
  });
  let verifiedTo = 0;
  for (let at = 0, step = 1; at < stream.length; at += step, step = (step * 7919) % 200_003) {
    verifiedTo = verifier.push(stream.subarray(at, Math.min(stream.length, at + step)));
  }
  return { released: Buffer.concat(released), stripes, verifiedTo, done: verifier.done };
}

describe("sub-chunk plans: a helper's sub-chunks checked against its piece commitment", function () {
  this.timeout(60_000);
  const share = 127 * 1024; // 130,048 bytes: eight shares fill a 2^15-leaf chunk

  it("4 + 2 Clay shape (α 8, β 4, 16,256-byte sub-chunks): every planned byte released, checked chunk by chunk", () => {
    const piece = pieceOf(12 * share); // two chunks, the second half zeros past the payload
    // The three digits a lost piece can fix: its other planes are one block of 4, two of 2, or 4 single ones.
    for (const [planes, roots] of [
      [[0, 1, 2, 3], 1],
      [[1, 3, 5, 7], 4],
      [[2, 3, 6, 7], 2],
    ] as const) {
      const plan = { shareSize: share, subChunkSize: share / 8, planes: [...planes], firstStripe: 0, stripes: 12 };
      const stream = streamOf(piece.payload, plan);
      const geometry = subChunkPlanGeometry(plan, piece.payload.length);
      expect(stream.length).to.equal(geometry.streamBytes);
      // Half the piece, plus the root blocks' roots of 32 bytes a stripe.
      expect(geometry.rootBlocks).to.have.length(roots);
      expect(stream.length).to.equal(12 * (4 * (share / 8) + roots * 32));
      const result = verify(piece, plan, stream);
      expect(result.done).to.equal(true);
      expect(result.verifiedTo).to.equal(stream.length);
      expect(result.stripes).to.deep.equal([...Array(12).keys()]);
      expect(result.released.equals(expectedSent(piece.payload, plan))).to.equal(true);
    }
  });

  it("10 + 4 Clay shape (α 256, β 64, 508-byte sub-chunks), a plan from the second chunk on", () => {
    const piece = pieceOf(20 * share);
    // Each digit of the plane index fixed in turn (weight 1: every fourth plane; 64: one run of 64).
    for (const weight of [1, 4, 16, 64]) {
      const planes = [...Array(256).keys()].filter((z) => Math.floor(z / weight) % 4 === 1);
      const plan = { shareSize: share, subChunkSize: 508, planes, firstStripe: 8, stripes: 12 };
      const result = verify(piece, plan, streamOf(piece.payload, plan));
      expect(result.done, `weight ${weight}`).to.equal(true);
      expect(result.released.equals(expectedSent(piece.payload, plan))).to.equal(true);
    }
    // Shares of eight chunks (32,512-byte sub-chunks, 32 a chunk): root blocks stop at chunks.
    const big = pieceOf(2 * 256 * 32_512);
    const planes = [...Array(256).keys()].filter((z) => Math.floor(z / 64) % 4 === 2);
    const plan = { shareSize: 256 * 32_512, subChunkSize: 32_512, planes, firstStripe: 0, stripes: 2 };
    const geometry = subChunkPlanGeometry(plan, big.payload.length);
    expect(geometry.perCheckNode).to.equal(32);
    expect(geometry.rootBlocks).to.have.length(6);
    const result = verify(big, plan, streamOf(big.payload, plan));
    expect(result.done).to.equal(true);
    expect(result.released.equals(expectedSent(big.payload, plan))).to.equal(true);
  });

  it("root blocks: the fewest aligned subtrees over the unsent planes, within α's power of two and one chunk", () => {
    // α 256 (10 + 4), β 64: the lost piece fixes one of four base-4 digits of the plane index.
    const rootsFor = (weight: number, perCheckNode = 4096) => {
      const planes = [...Array(256).keys()].filter((z) => Math.floor(z / weight) % 4 === 1);
      const blocks = rootBlocks(planes, 256, perCheckNode);
      // Together with the planes, every index once, each block aligned to its size.
      const covered = [...planes];
      for (const b of blocks) {
        expect(b.start % b.count, `block ${b.start}+${b.count}`).to.equal(0);
        for (let z = b.start; z < b.start + b.count; z++) covered.push(z);
      }
      expect(covered.sort((a, b) => a - b)).to.deep.equal([...Array(256).keys()]);
      return blocks.length;
    };
    // Digit of weight 1: [4i+1] sent, then {4i} and {4i+2, 4i+3}: 128 roots (192 one per plane).
    expect([1, 4, 16, 64].map((w) => rootsFor(w))).to.deep.equal([128, 32, 8, 2]);
    // Blocks stop at a chunk: 16 sub-chunks a chunk splits the 64-block of weight 64.
    expect(rootsFor(64, 16)).to.equal(12);
    // α 9: no power of two above one divides it, so one root per unsent plane.
    expect(rootBlocks([0, 4, 8], 9, 128)).to.have.length(6);
  });

  it("shares that straddle chunks (α 9) and a piece of less than one chunk (checked against the CommP)", () => {
    const straddling = pieceOf(20 * 9 * 8128); // 180 sub-chunks of 256 leaves: 128 per chunk
    const plan = { shareSize: 9 * 8128, subChunkSize: 8128, planes: [0, 4, 8], firstStripe: 0, stripes: 20 };
    const a = verify(straddling, plan, streamOf(straddling.payload, plan));
    expect(a.done).to.equal(true);
    expect(a.released.equals(expectedSent(straddling.payload, plan))).to.equal(true);

    const small = pieceOf(3 * share);
    expect(small.height).to.be.lessThan(15);
    const plan2 = { shareSize: share, subChunkSize: share / 8, planes: [4, 5, 6, 7], firstStripe: 0, stripes: 3 };
    const b = verify(small, plan2, streamOf(small.payload, plan2));
    expect(b.done).to.equal(true);
    expect(b.released.equals(expectedSent(small.payload, plan2))).to.equal(true);
  });

  it("a lying helper: a flipped byte, a forged root or another stripe's record is named with its chunk, and nothing of that chunk is released", () => {
    const piece = pieceOf(12 * share);
    const plan = { shareSize: share, subChunkSize: share / 8, planes: [0, 1, 2, 3], firstStripe: 0, stripes: 12 };
    const honest = streamOf(piece.payload, plan);
    const recordBytes = subChunkPlanGeometry(plan, piece.payload.length).recordBytes;
    const flippedByte = Buffer.from(honest);
    flippedByte[9 * recordBytes + 100] ^= 1; // stripe 9: chunk 1
    const forgedRoot = Buffer.from(honest);
    forgedRoot[2 * recordBytes + 4 * (share / 8) + 5] ^= 0x10; // stripe 2's first unsent root: chunk 0
    const swapped = Buffer.from(honest);
    honest.copy(swapped, 0, recordBytes, 2 * recordBytes); // stripe 1's record sent as stripe 0's
    for (const [stream, chunk, releasedStripes] of [
      [flippedByte, 1, 8],
      [forgedRoot, 0, 0],
      [swapped, 0, 0],
    ] as const) {
      const stripes: number[] = [];
      const verifier = new SubChunkPlanVerifier(
        plan,
        piece.payload.length,
        (i) => piece.chunkRoots[i],
        (s) => stripes.push(s),
      );
      let err: Error | undefined;
      try {
        verifier.push(stream);
      } catch (e) {
        err = e as Error;
      }
      expect(err?.name).to.equal("SubChunkMismatchError");
      expect((err as Error & { details: Record<string, unknown> }).details.chunk).to.equal(chunk);
      expect(stripes).to.have.length(releasedStripes);
    }
  });

  it("refuses plans it could not check and streams longer than the plan", () => {
    const payloadSize = 12 * share;
    const good = { shareSize: share, subChunkSize: share / 8, planes: [0, 1, 2, 3], firstStripe: 0, stripes: 12 };
    const bad: [Partial<SubChunkPlan>, string][] = [
      [{ subChunkSize: 100, shareSize: 800 }, "127 · 2^j"],
      [{ subChunkSize: 127 * 3, shareSize: 127 * 24 }, "127 · 2^j"],
      [{ planes: [3, 1] }, "ascending"],
      [{ planes: [0, 8] }, "ascending"],
      [{ firstStripe: 3, stripes: 5 }, "start on a chunk boundary"],
      [{ firstStripe: 0, stripes: 5 }, "end on a chunk boundary"],
      [{ firstStripe: 8, stripes: 5 }, "runs past the piece"],
    ];
    for (const [change, message] of bad) {
      expect(() => subChunkPlanGeometry({ ...good, ...change }, payloadSize), message).to.throw(message);
    }
    // A sub-chunk of 2^16 leaves is larger than the chunks it is checked against: refused.
    const huge = { shareSize: 127 * 2 ** 14, subChunkSize: 127 * 2 ** 14, planes: [0], firstStripe: 0, stripes: 2 };
    expect(() => subChunkPlanGeometry(huge, 2 * 127 * 2 ** 14)).to.throw("fit in one chunk");
    const piece = pieceOf(payloadSize);
    const verifier = new SubChunkPlanVerifier(
      good,
      payloadSize,
      (i) => piece.chunkRoots[i],
      () => undefined,
    );
    const stream = streamOf(piece.payload, good);
    verifier.push(stream);
    expect(verifier.done).to.equal(true);
    expect(() => verifier.push(new Uint8Array(1))).to.throw("longer than its plan");
  });
});
