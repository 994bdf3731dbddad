import { expect } from "chai";
import {
  DEFAULT_MAX_SHARE_SIZE,
  chooseClayShareSize,
  chooseShareSize,
  defaultShareSize,
  encodedPayloadBytesOfFile,
  fileLayout,
  isClayShareSize,
} from "../../../actors-ts/erasure/layout";
import { clayParams } from "../../../actors-ts/erasure/clay";
import { QUAD_PAYLOAD_BYTES } from "../../../actors-ts/piece/constants";

describe("erasure layout: shares sized so a client pays for little beyond its file", () => {
  const sizes = [1, 126, 127, 128, 1000, 65_537, 300_000, 4_206_649, 4 << 20, 98_932_688, 1 << 30, 3 * 2 ** 30 + 5];

  for (const [k, m] of [
    [4, 2],
    [10, 4],
  ]) {
    it(`${k} + ${m}: pieces hold the file, shares are whole fr32 quads within the maximum, payload ≈ (k + m) / k`, () => {
      for (const fileSize of sizes) {
        const shareSize = chooseShareSize(fileSize, k);
        const layout = fileLayout(fileSize, k, m, shareSize);
        expect(shareSize % QUAD_PAYLOAD_BYTES, `share of ${fileSize}`).to.equal(0);
        expect(shareSize).to.be.at.most(DEFAULT_MAX_SHARE_SIZE);
        expect(k * layout.pieceSize, `file ${fileSize}`).to.be.at.least(fileSize);
        // At most one quad per share per stripe beyond the file (rounding), so tiny files aside
        // the paid payload stays within 1 % of the coding overhead.
        expect(k * layout.pieceSize - fileSize).to.be.below(k * layout.stripes * QUAD_PAYLOAD_BYTES);
        if (fileSize >= 300_000) {
          expect(((k + m) * layout.pieceSize) / fileSize, `file ${fileSize}`).to.be.below(((k + m) / k) * 1.01);
        }
      }
    });
  }
});

describe("erasure layout: Clay shares are alpha sub-chunks, each an aligned subtree of the piece", () => {
  const sizes = [1, 127, 1000, 65_537, 300_000, 4_206_649, 4 << 20, 98_932_688, 1 << 30];

  /** Whether [offset, offset + length) of a piece's payload pads to one aligned Merkle subtree. */
  function alignedSubtree(offset: number, length: number): boolean {
    if (length % QUAD_PAYLOAD_BYTES !== 0 || offset % QUAD_PAYLOAD_BYTES !== 0) return false;
    const leaves = (length / QUAD_PAYLOAD_BYTES) * 4;
    const firstLeaf = (offset / QUAD_PAYLOAD_BYTES) * 4;
    return (leaves & (leaves - 1)) === 0 && firstLeaf % leaves === 0;
  }

  for (const [k, m] of [
    [4, 2],
    [10, 4],
  ]) {
    const { alpha } = clayParams(k, m);
    it(`${k} + ${m} (alpha ${alpha}): every sub-chunk of every share is an aligned subtree; few stripes, little padding`, () => {
      for (const fileSize of sizes) {
        const shareSize = chooseClayShareSize(fileSize, k, alpha);
        expect(isClayShareSize(shareSize, alpha), `share of ${fileSize}`).to.equal(true);
        expect(shareSize).to.be.at.most(Math.max(DEFAULT_MAX_SHARE_SIZE, alpha * QUAD_PAYLOAD_BYTES));
        const layout = fileLayout(fileSize, k, m, shareSize);
        expect(k * layout.pieceSize).to.be.at.least(fileSize);
        const subChunk = shareSize / alpha;
        for (const stripe of [0, 1, layout.stripes - 1]) {
          for (const z of [0, 1, alpha - 1]) {
            const offset = stripe * shareSize + z * subChunk;
            expect(alignedSubtree(offset, subChunk), `file ${fileSize} stripe ${stripe} plane ${z}`).to.equal(true);
          }
        }
        // Padding: at most one smallest stripe, or 1/64 of the file.
        const smallestStripe = k * alpha * QUAD_PAYLOAD_BYTES;
        expect(k * layout.pieceSize - fileSize).to.be.at.most(Math.max(smallestStripe, fileSize / 64));
      }
      // A gigabyte takes the largest shares, so as few stripes as the maximum allows.
      const big = chooseClayShareSize(1 << 30, k, alpha);
      expect(big * 2).to.be.above(DEFAULT_MAX_SHARE_SIZE);
    });
  }

  it("accepts only alpha · 127 · 2^j as a Clay share size", () => {
    expect(isClayShareSize(8 * 127, 8)).to.equal(true);
    expect(isClayShareSize(8 * 127 * 16, 8)).to.equal(true);
    expect(isClayShareSize(8 * 127 * 3, 8)).to.equal(false);
    expect(isClayShareSize(4 * 127, 8)).to.equal(false);
    expect(isClayShareSize(8 * 128, 8)).to.equal(false);
    expect(isClayShareSize(0, 8)).to.equal(false);
  });

  it("defaultShareSize: Reed–Solomon unchanged, Clay aligned", () => {
    expect(defaultShareSize(4 << 20, 4, 2, undefined)).to.equal(chooseShareSize(4 << 20, 4));
    expect(defaultShareSize(4 << 20, 4, 2, { scheme: "clay", d: 5 })).to.equal(chooseClayShareSize(4 << 20, 4, 8));
    expect(encodedPayloadBytesOfFile(4 << 20, 4, 2)).to.equal(
      BigInt(fileLayout(4 << 20, 4, 2, chooseShareSize(4 << 20, 4)).pieceSize * 6),
    );
  });
});
