import { expect } from "chai";
import { DEFAULT_MAX_SHARE_SIZE, chooseShareSize, fileLayout } from "../../../actors-ts/erasure/layout";
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
