import { expect } from "chai";
import { repairJobsInFlight } from "../../../../scripts/lib/soak/report";

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
