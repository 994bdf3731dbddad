import { expect } from "chai";
import { methodLabel, repairJobsInFlight } from "../../../../scripts/lib/soak/report";

const job = (status: string) => ({ id: 1, indices: [0], status, bytesDownloaded: 0 });

/** The soak's drain waits only for repair jobs still in flight: done and lost jobs have ended. */
describe("soak report: repair jobs in flight", () => {
  it("counts queued, rebuilt and reassigned jobs, not done or lost ones", () => {
    const deals = [
      { repairs: [job("done"), job("lost")] },
      { repairs: [job("queued"), job("rebuilt"), job("reassigned"), job("done")] },
    ];
    expect(repairJobsInFlight(deals)).to.equal(3);
    expect(repairJobsInFlight([{ repairs: [job("lost")] }, { repairs: [] }])).to.equal(0);
  });
});

/** Repairs are counted by method, not by each fallback's reason text. */
describe("soak report: repair method labels", () => {
  it("keeps the method and drops the reason that follows it", () => {
    const fallback =
      "clay file: k whole pieces (sub-chunk repair not used): fewer than d = 13 helpers can send verified sub-chunks for piece 8: decode it from k whole pieces\n  why: a helper's every holder failed";
    expect(methodLabel(fallback)).to.equal("clay file: k whole pieces (sub-chunk repair not used)");
    expect(methodLabel("clay file: sub-chunks from d helpers")).to.equal("clay file: sub-chunks from d helpers");
    expect(methodLabel("reed-solomon file: k whole pieces")).to.equal("reed-solomon file: k whole pieces");
    expect(methodLabel(undefined)).to.equal("unknown");
  });
});
