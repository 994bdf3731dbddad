import { expect } from "chai";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { demoPledge, sizeDemo, stageTimeoutMs, windowEpochs, writeRandomFile } from "../../../scripts/lib/demo-sizing";
import { ownPeakRssMiB, peakRssMiB } from "../../../scripts/lib/peak-rss";
import type { Deployment } from "../../../actors-ts/chain/deployment";

/** The demo's sizing for big files: pledge, windows and waits from the file's size. */
describe("demo sizing (pledge, windows and waits for the file)", () => {
  const deployment = {
    repairParams: { pledgePerByte: "1000000", lossReportBountyBps: "50" },
  } as unknown as Deployment;

  it("pledges the file's encoded bytes × pledgePerByte plus every piece's loss-report bounty", () => {
    const sizing = sizeDemo(2 ** 30, 4, 2);
    expect(sizing.encodedBytes).to.equal(1_611_294_720n);
    expect(sizing.pieceBytes).to.equal(268_549_120n);
    const deal = 1_611_294_720n * 1_000_000n;
    expect(demoPledge(sizing, deployment)).to.equal(deal + (deal * 50n * 6n) / 10_000n);
  });

  it("keeps the 4 MiB demo's bounds and windows, and adds the bytes' time at 4 MiB/s", () => {
    expect(stageTimeoutMs(120_000, 0)).to.equal(120_000);
    expect(stageTimeoutMs(120_000, 4 * 2 ** 20 * 100)).to.equal(220_000);
    const small = sizeDemo(4 * 2 ** 20, 4, 2);
    expect(windowEpochs(small, 20, 500)).to.equal(200 + Math.ceil(stageTimeoutMs(0, small.encodedBytes) / 500));
    expect(windowEpochs(sizeDemo(2 ** 30, 4, 2), 20, 500)).to.equal(969);
  });

  it("writes a generated file of the exact size, and reads peak RSS from /proc", async () => {
    const dir = await mkdtemp(join(tmpdir(), "rm-demo-sizing-"));
    try {
      await writeRandomFile(join(dir, "f.bin"), 9 * 2 ** 20 + 12_345);
      expect((await stat(join(dir, "f.bin"))).size).to.equal(9 * 2 ** 20 + 12_345);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    expect(ownPeakRssMiB()).to.be.greaterThan(0);
    if (process.platform === "linux") expect(await peakRssMiB(process.pid)).to.be.greaterThan(0);
    expect(await peakRssMiB(undefined)).to.equal(undefined);
  });
});
