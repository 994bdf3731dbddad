import { expect } from "chai";
import {
  DEFAULT_ASSUMPTIONS,
  HOURS_PER_YEAR,
  downloadPieces,
  restoreHours,
  type DurabilityAssumptions,
} from "../../../actors-ts/durability/assumptions";
import {
  chainFor,
  failureRate,
  lossProbability,
  markovFigures,
  mttdlByFundamentalMatrix,
  mttdlHours,
} from "../../../actors-ts/durability/markov";

const layout = (k: number, m: number, over: Partial<DurabilityAssumptions> = {}): DurabilityAssumptions => ({
  ...DEFAULT_ASSUMPTIONS,
  k,
  m,
  ...over,
});

function close(actual: number, expected: number, relative: number): void {
  expect(Math.abs(actual - expected) / Math.abs(expected), `${actual} vs ${expected}`).to.be.at.most(relative);
}

describe("durability Markov model", () => {
  describe("mean time to data loss", () => {
    it("matches the closed form (μ + (2n − 1)λ) / (n(n − 1)λ²) for one parity piece", () => {
      for (const k of [1, 3, 9]) {
        const c = chainFor(layout(k, 1));
        const [n, l, mu] = [c.n, c.lambdaPerHour, c.muPerHour[1]];
        const expected = (mu + (2 * n - 1) * l) / (n * (n - 1) * l * l);
        close(mttdlHours(c), expected, 1e-12);
        close(mttdlByFundamentalMatrix(c)[0], expected, 1e-9);
      }
    });

    it("gives two copies (μ + 3λ) / (2λ²), about 6,100 years at the defaults", () => {
      const c = chainFor(layout(1, 1));
      const [l, mu] = [c.lambdaPerHour, c.muPerHour[1]];
      close(mttdlHours(c), (mu + 3 * l) / (2 * l * l), 1e-12);
      close(mttdlHours(c) / HOURS_PER_YEAR, 6_096, 1e-3);
    });

    it("solves the fundamental matrix to the recursion's figure, and tends to Πμ / Πλ when repair is fast", () => {
      for (const [k, m] of [
        [4, 2],
        [10, 4],
      ]) {
        const c = chainFor(layout(k, m));
        close(mttdlByFundamentalMatrix(c)[0], mttdlHours(c), 1e-6);
        let ratio = 1;
        for (let i = 0; i <= m; i++) ratio *= (i > 0 ? c.muPerHour[i] : 1) / failureRate(c, i);
        close(mttdlHours(c), ratio, 0.02);
      }
    });

    it("repairs a file's lost pieces side by side: μ_i = i / T_i", () => {
      const a = layout(4, 2);
      const c = chainFor(a);
      close(c.muPerHour[2], 2 / restoreHours(a, 2), 1e-15);
      close(chainFor(a, "serial").muPerHour[2], 1 / restoreHours(a, 2), 1e-15);
    });
  });

  describe("loss within a time", () => {
    it("matches the two-state closed form for one parity piece", () => {
      const c = chainFor(layout(3, 1, { providerFailuresPerYear: 3, placementHours: 300 }));
      const [l0, l1, mu] = [failureRate(c, 0), failureRate(c, 1), c.muPerHour[1]];
      // Eigenvalues of the transient generator [[−l0, l0], [mu, −(l1 + mu)]].
      const tr = -(l0 + l1 + mu);
      const det = l0 * (l1 + mu) - l0 * mu;
      const r1 = (tr + Math.sqrt(tr * tr - 4 * det)) / 2;
      const r2 = (tr - Math.sqrt(tr * tr - 4 * det)) / 2;
      for (const t of [100, 2_000, HOURS_PER_YEAR]) {
        const survival = (r1 * Math.exp(r2 * t) - r2 * Math.exp(r1 * t)) / (r1 - r2);
        close(lossProbability(c, t), 1 - survival, 1e-9);
      }
    });

    it("keeps tiny probabilities accurate and near 1 − exp(−t / MTTDL)", () => {
      for (const [k, m] of [
        [4, 2],
        [10, 4],
      ]) {
        const f = markovFigures(layout(k, m));
        expect(f.annualLossProbability).to.be.greaterThan(0);
        close(f.annualLossProbability, f.annualLossFromMttdl, 0.03);
        close(f.lossesPerMillionFilesPerYear, f.annualLossProbability * 1e6, 1e-12);
      }
    });

    it("is 0 at t = 0, grows with t and tends to 1", () => {
      const c = chainFor(layout(4, 2, { providerFailuresPerYear: 2 }));
      const ps = [0, 10, 1_000, HOURS_PER_YEAR, 1_000 * HOURS_PER_YEAR].map((t) => lossProbability(c, t));
      expect(ps[0]).to.equal(0);
      for (let i = 1; i < ps.length; i++) expect(ps[i]).to.be.greaterThan(ps[i - 1]);
      close(ps[4], 1, 1e-6);
    });
  });

  describe("monotonicity", () => {
    it("loses less with more parity pieces", () => {
      const p = [1, 2, 3, 4].map((m) => markovFigures(layout(4, m)).annualLossProbability);
      for (let i = 1; i < p.length; i++) expect(p[i]).to.be.lessThan(p[i - 1] / 10);
    });

    it("loses less with faster repair and more with more failures", () => {
      const byPlacement = [96, 48, 12, 1].map((h) => markovFigures(layout(4, 2, { placementHours: h })));
      for (let i = 1; i < byPlacement.length; i++) {
        expect(byPlacement[i].annualLossProbability).to.be.lessThan(byPlacement[i - 1].annualLossProbability);
      }
      const byRate = [0.01, 0.1, 1].map((r) => markovFigures(layout(10, 4, { providerFailuresPerYear: r })));
      for (let i = 1; i < byRate.length; i++) {
        expect(byRate[i].mttdlYears).to.be.lessThan(byRate[i - 1].mttdlYears);
      }
    });
  });

  describe("repair download", () => {
    it("downloads k pieces for Reed–Solomon and d/(d − k + 1) for Clay with one piece lost", () => {
      expect(downloadPieces(layout(10, 4), 1)).to.equal(10);
      expect(downloadPieces(layout(10, 4, { scheme: "clay" }), 1)).to.equal(13 / 4);
      expect(downloadPieces(layout(10, 4, { scheme: "clay" }), 2)).to.equal(10);
      expect(downloadPieces(layout(4, 2, { scheme: "clay", clayHelpers: 4 }), 1)).to.equal(4);
      expect(() => downloadPieces(layout(4, 2, { scheme: "clay", clayHelpers: 6 }), 1)).to.throw(
        RangeError,
        /\[4, 5\]/,
      );
    });
  });
});
