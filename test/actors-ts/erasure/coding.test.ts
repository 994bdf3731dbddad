import { expect } from "chai";
import { codingName, codingOnChain, defaultCoding, parseCoding } from "../../../actors-ts/erasure/coding";
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

  it("the default: Clay (d = n − 1) from one stripe of Clay's smallest shares when m ≥ 2, Reed–Solomon otherwise", () => {
    // 4 + 2: α = 8, the smallest share 8 quads (1,016 bytes), one stripe 4,064 bytes.
    expect(defaultCoding(4064, 4, 2)).to.deep.equal({ scheme: "clay", d: 5 });
    expect(defaultCoding(4063, 4, 2)).to.equal(undefined);
    expect(defaultCoding(1 << 30, 4, 2)).to.deep.equal({ scheme: "clay", d: 5 });
    // 10 + 4: α = 256, one stripe 10 · 256 · 127 = 325,120 bytes.
    expect(defaultCoding(325_120, 10, 4)).to.deep.equal({ scheme: "clay", d: 13 });
    expect(defaultCoding(325_119, 10, 4)).to.equal(undefined);
    // m = 1 saves nothing (β / α = 1); a sub-packetization past MAX_CLAY_SUB_CHUNKS is refused.
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
