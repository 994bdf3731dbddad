import { expect } from "chai";
import { codingName, codingOnChain, parseCoding } from "../../../actors-ts/erasure/coding";
import { defaultCoding, defaultShareSize, fileLayout } from "../../../actors-ts/erasure/layout";
import { repairMethod } from "../../../actors-ts/repair/repairer";

describe("erasure coding choice: --code rs|clay [--d N]", () => {
  it("rs is no coding field, 0 and 0 on chain", () => {
    expect(parseCoding("rs", 4, 2)).to.equal(undefined);
    expect(codingOnChain(undefined)).to.deep.equal({ scheme: 0, d: 0 });
    expect(codingName(undefined)).to.equal("Reed–Solomon");
  });

  it("clay takes d = k + m − 1 by default, or the d given, and is scheme 1 on chain", () => {
    expect(parseCoding("clay", 4, 2)).to.deep.equal({ scheme: "clay", d: 5 });
    expect(parseCoding("clay", 10, 4, 12)).to.deep.equal({ scheme: "clay", d: 12 });
    expect(codingOnChain({ scheme: "clay", d: 13 })).to.deep.equal({ scheme: 1, d: 13 });
  });

  it("the default: Clay (d = n − 1) when k, m ≥ 2 and its pieces are at most 1/64 larger than Reed–Solomon's", () => {
    const clay5 = { scheme: "clay", d: 5 };
    expect(defaultCoding((4 << 20) + 12_345, 4, 2)).to.deep.equal(clay5); // the demo's file
    expect(defaultCoding(1 << 30, 4, 2)).to.deep.equal(clay5);
    expect(defaultCoding(4 << 20, 10, 4)).to.deep.equal({ scheme: "clay", d: 13 });
    // Just past one stripe of Clay's smallest shares, Clay's pieces are far larger: 2,032 bytes
    // against 1,143 (4 + 2), 65,024 against 32,639 (10 + 4).
    expect(defaultCoding(4065, 4, 2)).to.equal(undefined);
    expect(defaultCoding(325_121, 10, 4)).to.equal(undefined);
    expect(defaultCoding(64 << 10, 4, 2)).to.equal(undefined); // 4.6 % larger
    // Wherever it is chosen, its pieces are within 1/64 of Reed–Solomon's.
    for (let size = 1000; size < 64 << 20; size = Math.ceil(size * 1.37)) {
      for (const [k, m] of [
        [4, 2],
        [10, 4],
        [2, 2],
        [6, 3],
      ]) {
        const coding = defaultCoding(size, k, m);
        const rs = fileLayout(size, k, m, defaultShareSize(size, k, m, undefined)).pieceSize;
        const clay = fileLayout(size, k, m, defaultShareSize(size, k, m, { scheme: "clay", d: k + m - 1 })).pieceSize;
        expect(coding === undefined, `${size} bytes, ${k} + ${m}`).to.equal(clay > rs + Math.floor(rs / 64));
      }
    }
    // k = 1 or m = 1 save nothing (d · β / α = k); a sub-packetization past MAX_CLAY_SUB_CHUNKS is refused.
    expect(defaultCoding(1 << 30, 1, 2)).to.equal(undefined);
    expect(defaultCoding(1 << 30, 2, 1)).to.equal(undefined);
    expect(defaultCoding(1 << 30, 40, 2)).to.equal(undefined); // α = 2^21
  });

  it("refuses an unknown code, d with rs, and d outside [k, k + m − 1]", () => {
    expect(() => parseCoding("lrc", 4, 2)).to.throw(/unknown coding "lrc"/);
    expect(() => parseCoding("rs", 4, 2, 5)).to.throw(/Reed–Solomon takes none/);
    expect(() => parseCoding("clay", 4, 2, 3)).to.throw(/k ≤ d ≤ k \+ m − 1/);
    expect(() => parseCoding("clay", 4, 2, 6)).to.throw(/k ≤ d ≤ k \+ m − 1/);
  });

  it("the repairer says a Clay file is repaired from k whole pieces (no sub-chunk repair yet)", () => {
    expect(repairMethod({ coding: { scheme: "clay", d: 5 } })).to.equal(
      "clay file: k whole pieces (sub-chunk repair not used)",
    );
    expect(repairMethod({})).to.equal("reed-solomon file: k whole pieces");
  });
});
