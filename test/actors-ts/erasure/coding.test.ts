import { expect } from "chai";
import { codingName, codingOnChain, parseCoding } from "../../../actors-ts/erasure/coding";
import { repairMethod } from "../../../actors-ts/repair/repairer";

describe("erasure coding choice: --code rs|clay [--d N]", () => {
  it("rs (the default) is no coding field, 0 and 0 on chain", () => {
    expect(parseCoding("rs", 4, 2)).to.equal(undefined);
    expect(codingOnChain(undefined)).to.deep.equal({ scheme: 0, d: 0 });
    expect(codingName(undefined)).to.equal("Reed–Solomon");
  });

  it("clay takes d = k + m − 1 by default, or the d given, and is scheme 1 on chain", () => {
    expect(parseCoding("clay", 4, 2)).to.deep.equal({ scheme: "clay", d: 5 });
    expect(parseCoding("clay", 10, 4, 12)).to.deep.equal({ scheme: "clay", d: 12 });
    expect(codingOnChain({ scheme: "clay", d: 13 })).to.deep.equal({ scheme: 1, d: 13 });
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
