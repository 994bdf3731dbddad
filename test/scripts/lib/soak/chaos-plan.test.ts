import { expect } from "chai";
import { getAddress, type Address } from "viem";
import { SeededRandom } from "../../../../scripts/lib/fault-injection";
import {
  burstVictims,
  chooseFault,
  DEFAULT_FAULT_WEIGHTS,
  piecesAtRisk,
  withinTolerance,
  type FileView,
  type FleetView,
  type ProviderCondition,
} from "../../../../scripts/lib/soak/chaos-plan";

const P = Array.from({ length: 8 }, (_, i) => getAddress(`0x${(i + 1).toString(16).padStart(40, "0")}`));

/** A 4 + 2 file on providers `holders` (indexes into P). */
function file(holders: number[], lost: number[] = []): FileView {
  return {
    droot: `0x${holders.join("")}`,
    k: 4,
    m: 2,
    closed: false,
    slots: holders.map((h, index) => ({
      index,
      provider: P[h],
      storageDealId: BigInt(100 + h),
      lost: lost.includes(index),
    })),
  };
}

function fleet(conditions: Partial<Record<number, ProviderCondition>>, files: FileView[]): FleetView {
  return {
    providers: P.map((address, i) => ({ address, condition: conditions[i] ?? "healthy" })),
    files,
    doomedStorageDeals: new Set(),
  };
}

describe("soak chaos plan: faults that keep every file within tolerance", () => {
  it("counts lost pieces, pieces on unhealthy providers and doomed storage deals as at risk", () => {
    const f = file([0, 1, 2, 3, 4, 5], [0]);
    const view = { ...fleet({ 1: "down", 2: "corrupt" }, [f]), doomedStorageDeals: new Set([103n]) };
    expect(piecesAtRisk(f, view)).to.equal(4);
  });

  it("refuses to break a holder of a file that already has m pieces at risk", () => {
    const view = fleet({ 0: "down", 1: "gone" }, [file([0, 1, 2, 3, 4, 5])]);
    expect(withinTolerance(view, P[2])).to.equal(false);
    // A provider holding none of the file's pieces may be broken.
    expect(withinTolerance(view, P[6])).to.equal(true);
  });

  it("refuses when too few healthy providers outside the file are left to repair onto", () => {
    // Providers 6 and 7 are the only spares; with 7 down, one spare is left for two pieces at risk.
    const view = fleet({ 7: "gone" }, [file([0, 1, 2, 3, 4, 5], [0])]);
    expect(withinTolerance(view, P[1])).to.equal(false);
    expect(withinTolerance(fleet({}, [file([0, 1, 2, 3, 4, 5], [0])]), P[1])).to.equal(true);
  });

  it("draws the same faults from the same seed, and only providers within tolerance", () => {
    const view = fleet({ 0: "down" }, [file([0, 1, 2, 3, 4, 5]), file([2, 3, 4, 5, 6, 7])]);
    const draw = (seed: number) => {
      const rng = new SeededRandom(seed);
      return Array.from({ length: 20 }, () => chooseFault(rng, view, DEFAULT_FAULT_WEIGHTS, 5));
    };
    expect(draw(3)).to.deep.equal(draw(3));
    for (const choice of draw(3)) {
      if (choice.provider === undefined) continue;
      expect(choice.provider).to.not.equal(P[0]);
      expect(withinTolerance(view, choice.provider as Address)).to.equal(true);
    }
  });

  it("never draws a permanent provider fault once none is left", () => {
    const rng = new SeededRandom(9);
    const view = fleet({}, [file([0, 1, 2, 3, 4, 5])]);
    for (let i = 0; i < 200; i++) {
      expect(["kill-forever", "wipe", "stop-proving"]).to.not.include(
        chooseFault(rng, view, DEFAULT_FAULT_WEIGHTS, 0).kind,
      );
    }
  });

  it("picks m + 1 healthy holders of a file for the burst beyond tolerance", () => {
    const f = file([0, 1, 2, 3, 4, 5]);
    expect(burstVictims(f, fleet({ 0: "down" }, [f]))).to.deep.equal([P[1], P[2], P[3]]);
    expect(burstVictims(f, fleet({ 0: "down", 1: "down", 2: "down", 3: "down" }, [f]))).to.equal(undefined);
  });
});
