import { expect } from "chai";
import { uncoveredLosses } from "../../../actors-ts/repair/uncovered-losses";

describe("uncoveredLosses (which reported losses no repair job works on)", () => {
  const pieces = (states: string[]) => states.map((state, index) => ({ index, state: state as "lost" }));

  it("lists lost pieces that no queued job names", () => {
    expect(uncoveredLosses(pieces(["assigned", "lost", "lost", "assigned"]), [])).to.deep.equal([1, 2]);
    expect(
      uncoveredLosses(pieces(["assigned", "lost", "lost", "assigned"]), [{ status: "queued", indices: [1] }]),
    ).to.deep.equal([2]);
  });

  it("does not count a rebuilt job as covering a piece that is still lost (the merged-index bug)", () => {
    // A loss merged into a job after it started, left "lost" while the job says "rebuilt".
    expect(
      uncoveredLosses(pieces(["pending", "lost", "assigned"]), [{ status: "rebuilt", indices: [0, 1] }]),
    ).to.deep.equal([1]);
  });

  it("ignores finished jobs and pieces that are not lost", () => {
    expect(
      uncoveredLosses(pieces(["assigned", "pending", "proposed"]), [
        { status: "done", indices: [0] },
        { status: "lost", indices: [1] },
      ]),
    ).to.deep.equal([]);
  });
});
