import { expect } from "chai";
import { DEFAULT_ASSUMPTIONS, HOURS_PER_YEAR } from "../../../actors-ts/durability/assumptions";
import { Fleet } from "../../../actors-ts/durability/fleet";
import { chainFor, lossProbability } from "../../../actors-ts/durability/markov";
import { SimRandom } from "../../../actors-ts/durability/random";
import { simulate, type SimulationParams } from "../../../actors-ts/durability/simulate";

/** 4 + 2 with failures frequent and repair slow, so about one file in eight is lost in a year. */
const FREQUENT = { ...DEFAULT_ASSUMPTIONS, k: 4, m: 2, providerFailuresPerYear: 2, placementHours: 150 };

const base: SimulationParams = {
  assumptions: FREQUENT,
  files: 4_000,
  // Ten times the pieces: few files share a provider, so files are nearly independent and the
  // Wilson interval (which assumes they are) is honest.
  providers: 40_000,
  groups: 1,
  groupFailuresPerYear: 0,
  groupPlacement: "ignore",
  years: 1,
  seed: 20_261_201,
  repairSlots: Infinity,
  timing: "exponential",
};

describe("durability Monte Carlo simulation", function () {
  this.timeout(60_000);

  it("agrees with the Markov model within its 95 % interval when losses are frequent", () => {
    const markov = lossProbability(chainFor(FREQUENT), HOURS_PER_YEAR);
    const r = simulate(base);
    expect(r.filesLost).to.be.greaterThan(300);
    expect(markov).to.be.within(r.lostWithinHorizon.lo, r.lostWithinHorizon.hi);
    expect(r.lossesPerMillionFileYears.estimate).to.be.greaterThan(r.lostWithinHorizon.estimate * 1e6);
  });

  it("is the same run for the same seed, and sees the same failures whatever the placement", () => {
    const params = {
      ...base,
      files: 500,
      providers: 600,
      groups: 10,
      groupFailuresPerYear: 0.5,
      timing: "periodic" as const,
    };
    const a = simulate(params);
    const b = simulate(params);
    const spread = simulate({ ...params, groupPlacement: "spread" });
    const { wallMs: _a, ...ra } = a;
    const { wallMs: _b, ...rb } = b;
    expect(ra).to.deep.equal(rb);
    expect([spread.providerFailures, spread.groupFailures]).to.deep.equal([a.providerFailures, a.groupFailures]);
  });

  it("loses fewer files to group failures when pieces are spread over the groups", () => {
    const params = {
      ...base,
      assumptions: { ...DEFAULT_ASSUMPTIONS, k: 4, m: 2 },
      files: 3_000,
      providers: 600,
      groups: 6,
      groupFailuresPerYear: 0.5,
      years: 2,
      timing: "periodic" as const,
      repairSlots: 4,
    };
    const ignored = simulate(params);
    const spread = simulate({ ...params, groupPlacement: "spread" });
    expect(ignored.groupFailures).to.be.greaterThan(0);
    expect(ignored.filesLost).to.be.greaterThan(10 * Math.max(1, spread.filesLost));
    expect(spread.maxRepairQueue).to.be.greaterThan(0);
  });

  it("draws repairs from the detection, download and placement times", () => {
    const r = simulate({
      ...base,
      assumptions: { ...DEFAULT_ASSUMPTIONS, k: 4, m: 2 },
      files: 1_000,
      providers: 200,
      years: 5,
      timing: "periodic",
    });
    // Detection uniform over the 24 h period (mean 12 h) + 0.02 h, download 0.1 h, placement 48.04 h.
    expect(r.meanRestoreHours).to.be.within(59, 62);
    expect(r.repairJobs).to.be.greaterThan(0);
  });

  it("refuses a fleet too small to repair", () => {
    expect(() => simulate({ ...base, providers: 6 })).to.throw(RangeError, /providers must be ≥ n \+ 1 = 7/);
    expect(() => simulate({ ...base, providers: 10, groups: 10, groupPlacement: "spread" })).to.throw(
      RangeError,
      /cannot spread/,
    );
  });
});

describe("durability fleet placement", () => {
  it("places a file's pieces on distinct providers, at most ⌈n / G⌉ per group when spreading", () => {
    const fleet = new Fleet(
      { files: 300, providers: 40, groups: 4, n: 6, placement: "spread", pieceSizeBytes: 2 ** 20 },
      new SimRandom(7),
    );
    fleet.placeAll();
    for (let f = 0; f < 300; f++) {
      const providers = [...fleet.provider.subarray(f * 6, f * 6 + 6)];
      expect(new Set(providers).size).to.equal(6);
      const perGroup = new Map<number, number>();
      for (const p of providers) perGroup.set(fleet.groupOf(p), (perGroup.get(fleet.groupOf(p)) ?? 0) + 1);
      expect(Math.max(...perGroup.values())).to.be.at.most(2);
    }
  });
});
