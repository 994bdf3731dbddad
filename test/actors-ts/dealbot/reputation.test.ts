import { expect } from "chai";
import { rankProviders, wilsonLowerBound } from "../../../actors-ts/dealbot/reputation";
import { parseTasks, retrievalTaskSchema, storageTaskSchema } from "../../../actors-ts/dealbot/tasks";

describe("dealbot reputation and task input", () => {
  it("a Bayesian lower bound: few successes count for little, a long record for a lot", () => {
    expect(wilsonLowerBound(0, 0)).to.equal(0);
    expect(wilsonLowerBound(2, 2)).to.be.closeTo(0.342, 0.001);
    expect(wilsonLowerBound(990, 1000)).to.be.closeTo(0.982, 0.001);
    expect(wilsonLowerBound(990, 1000)).to.be.greaterThan(wilsonLowerBound(2, 2));
    expect(wilsonLowerBound(0, 5)).to.equal(0);
    // More of the same evidence raises the bound; a failure lowers it.
    expect(wilsonLowerBound(20, 20)).to.be.greaterThan(wilsonLowerBound(10, 10));
    expect(wilsonLowerBound(9, 10)).to.be.lessThan(wilsonLowerBound(10, 10));
    for (let n = 1; n < 50; n++)
      for (let s = 0; s <= n; s++) {
        const b = wilsonLowerBound(s, n);
        expect(b).to.be.within(0, s / n + 1e-12);
      }
  });

  it("ranks providers by the bound, so 2 of 2 does not outrank 990 of 1000", () => {
    const ranking = rankProviders([
      { provider: "0xa", attempts: 2, successes: 2 },
      { provider: "0xb", attempts: 1000, successes: 990 },
      { provider: "0xc", attempts: 10, successes: 3 },
    ]);
    expect(ranking.map((r) => r.provider)).to.deep.equal(["0xb", "0xa", "0xc"]);
  });

  it("reads tasks as a JSON array or one per line, and names the bad line and field", () => {
    const p = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
    expect(parseTasks(`[{"size": 1000}]`, storageTaskSchema)).to.deep.equal([{ provider: "random", size: 1000 }]);
    const lines = parseTasks(
      `{"pieceCid":"bafk1","provider":"${p.toLowerCase()}"}\n\n{"pieceCid":"bafk2","provider":"${p}"}\n`,
      retrievalTaskSchema,
    );
    expect(lines.map((t) => t.provider)).to.deep.equal([p, p]);
    expect(parseTasks(`{"size": 1000, "priceLimit": "5"}`, storageTaskSchema)[0].priceLimit).to.equal(5n);
    expect(() => parseTasks(`{"size": 1000}\n{"size": 10}`, storageTaskSchema)).to.throw(/line 2: size/);
    expect(() => parseTasks(`{"provider": "0x12", "size": 1000}`, storageTaskSchema)).to.throw(/line 1: provider: /);
    expect(() => parseTasks(`{"size": 1000}\nnot json`, storageTaskSchema)).to.throw(/line 2 is not valid JSON/);
    expect(() => parseTasks(`[{"pieceCid":"x","provider":"0x12"}]`, retrievalTaskSchema)).to.throw(/task 0: provider/);
    expect(parseTasks("  \n", storageTaskSchema)).to.deep.equal([]);
    // A whole file by droot, with or without a provider label.
    const droot = `0x${"ab".repeat(32)}`;
    expect(parseTasks(`{"droot":"${droot}"}`, retrievalTaskSchema)).to.deep.equal([{ droot }]);
    expect(() => parseTasks(`{"droot":"0x12"}`, retrievalTaskSchema)).to.throw(/line 1: droot: expected a 32-byte/);
    expect(() => parseTasks(`{"pieceCid":"bafk1"}`, retrievalTaskSchema)).to.throw(/line 1: provider/);
  });
});
