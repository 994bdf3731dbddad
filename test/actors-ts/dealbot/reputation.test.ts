import { expect } from "chai";
import { InvalidArgumentError } from "../../../actors-ts/core/errors";
import {
  DEFAULT_REPUTATION_WEIGHTS,
  checkWeights,
  combineScore,
  rankProviders,
  wilsonLowerBound,
} from "../../../actors-ts/dealbot/reputation";
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
      { provider: "0xa", storage: { attempts: 2, successes: 2 } },
      { provider: "0xb", storage: { attempts: 1000, successes: 990 } },
      { provider: "0xc", storage: { attempts: 10, successes: 3 } },
    ]);
    expect(ranking.map((r) => r.provider)).to.deep.equal(["0xb", "0xa", "0xc"]);
    // One component observed: the score is its bound; the others are reported empty.
    expect(ranking[0].score).to.equal(wilsonLowerBound(990, 1000));
    expect(ranking[0].retrieval).to.deep.equal({ successes: 0, attempts: 0, score: 0 });
    expect(ranking[0].proving).to.deep.equal({ successes: 0, attempts: 0, score: 0 });
  });

  it("weighs proving 0.40, retrieval 0.35 and storage 0.25 by default, each as its lower bound", () => {
    expect(DEFAULT_REPUTATION_WEIGHTS).to.deep.equal({ proving: 0.4, retrieval: 0.35, storage: 0.25 });
    const [r] = rankProviders([
      {
        provider: "0xa",
        storage: { successes: 8, attempts: 10 },
        retrieval: { successes: 5, attempts: 10 },
        proving: { successes: 95, attempts: 100 },
      },
    ]);
    const expected = 0.25 * wilsonLowerBound(8, 10) + 0.35 * wilsonLowerBound(5, 10) + 0.4 * wilsonLowerBound(95, 100);
    expect(r.score).to.be.closeTo(expected, 1e-12);
    expect(r.storage).to.deep.equal({ successes: 8, attempts: 10, score: wilsonLowerBound(8, 10) });
    expect(r.proving.score).to.equal(wilsonLowerBound(95, 100));
    // Dealbot totals: storage + retrieval, not proving periods.
    expect([r.successes, r.attempts]).to.deep.equal([13, 20]);

    // Other weights: any non-negative numbers, normalised by their sum.
    const provingOnly = { proving: 1, retrieval: 0, storage: 0 };
    const components = {
      storage: { successes: 0, attempts: 5, score: 0 },
      proving: { successes: 20, attempts: 20, score: wilsonLowerBound(20, 20) },
    };
    expect(combineScore(components, provingOnly)).to.equal(wilsonLowerBound(20, 20));
    expect(combineScore(components, { proving: 2, retrieval: 7, storage: 2 })).to.be.closeTo(
      wilsonLowerBound(20, 20) / 2,
      1e-12,
    );
    expect(() => checkWeights({ proving: 0, retrieval: 0, storage: 0 })).to.throw(InvalidArgumentError, /all 0/);
    expect(() => checkWeights({ proving: -1, retrieval: 1, storage: 1 })).to.throw(InvalidArgumentError, /proving/);
    expect(() => checkWeights({ proving: 1, retrieval: NaN, storage: 1 })).to.throw(InvalidArgumentError, /retrieval/);
  });

  it("leaves out a component with no observations and renormalises the others", () => {
    const storage = { successes: 10, attempts: 10, score: wilsonLowerBound(10, 10) };
    const proving = { successes: 6, attempts: 10, score: wilsonLowerBound(6, 10) };
    const expected = (0.25 * storage.score + 0.4 * proving.score) / 0.65;
    expect(combineScore({ storage, proving })).to.be.closeTo(expected, 1e-12);
    // An empty component counts as absent, not as a 0.
    const empty = { successes: 0, attempts: 0, score: 0 };
    expect(combineScore({ storage, proving, retrieval: empty })).to.be.closeTo(expected, 1e-12);
    // A failed observation is not absent: 0 of 3 retrievals pulls the score down.
    const failed = { successes: 0, attempts: 3, score: 0 };
    expect(combineScore({ storage, proving, retrieval: failed })).to.be.closeTo(
      0.25 * storage.score + 0.4 * proving.score,
      1e-12,
    );
    expect(combineScore({})).to.equal(0);
    // Proving alone observed: the score is its bound.
    const [chainOnly] = rankProviders([{ provider: "0xd", proving: { successes: 30, attempts: 30 } }]);
    expect(chainOnly.score).to.equal(wilsonLowerBound(30, 30));
    expect(chainOnly.attempts).to.equal(0);
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
