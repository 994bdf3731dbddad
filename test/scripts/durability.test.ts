import { expect } from "chai";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const ROOT = join(__dirname, "..", "..");
const run = promisify(execFile);

/** `node -r tsx/cjs scripts/durability.ts …` (what `npm run durability --` runs), small and fast. */
function durability(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, ["--require", "tsx/cjs", join("scripts", "durability.ts"), ...args], {
    cwd: ROOT,
    maxBuffer: 16 << 20,
  });
}

const SMALL = ["--files", "300", "--providers", "200", "--years", "1", "--groups", "5"];

describe("scripts/durability.ts: the durability report from the command line", function () {
  this.timeout(120_000);

  it("prints one JSON report with the Markov figures and Monte Carlo intervals of every row", async () => {
    const { stdout } = await durability(["--json", ...SMALL]);
    const report = JSON.parse(stdout) as {
      assumptions: Record<string, unknown>;
      rows: {
        layout: string;
        failures: string;
        groupPlacement?: string;
        markov?: { mttdlYears: number; annualLossProbability: number; lossesPerMillionFilesPerYear: number };
        simulation?: { lossesPerMillionFileYears: { estimate: number; lo: number; hi: number }; filesLost: number };
      }[];
      curves: { layout: string; points: { failuresPerYear: number; annualLossProbability: number }[] }[];
    };
    expect(report.assumptions).to.include({ providerFailuresPerYear: 0.1, provingPeriodHours: 24, files: 300 });
    const independent = report.rows.filter((r) => r.failures === "independent");
    expect(independent.map((r) => r.layout)).to.deep.equal(["4+2 rs", "4+2 clay", "10+4 rs", "10+4 clay", "2 copies"]);
    for (const r of independent) {
      expect(r.markov?.mttdlYears).to.be.greaterThan(0);
      expect(r.markov?.annualLossProbability).to.be.within(0, 1);
    }
    const correlated = report.rows.filter((r) => r.failures === "correlated");
    expect(correlated.map((r) => `${r.layout} ${r.groupPlacement}`)).to.deep.equal([
      "4+2 rs ignore",
      "4+2 rs spread",
      "10+4 rs ignore",
      "10+4 rs spread",
      "2 copies ignore",
      "2 copies spread",
    ]);
    for (const r of report.rows) {
      const i = r.simulation?.lossesPerMillionFileYears;
      expect(i && i.lo <= i.estimate && i.estimate <= i.hi).to.equal(true);
    }
    expect(report.curves).to.have.length(5);
    expect(report.curves[0].points.length).to.be.greaterThan(10);
  });

  it("writes the plot with --out and prints the table; one layout with --k and --m", async () => {
    const dir = await mkdtemp(join(tmpdir(), "durability-"));
    try {
      const { stdout } = await durability(["--k", "6", "--m", "3", "--scheme", "clay", "--out", dir, ...SMALL]);
      expect(stdout).to.match(/MTTDL \(years\)/);
      expect(stdout).to.match(/6\+3 clay\s+independent/);
      expect(stdout).to.match(/2 copies\s+groups, spread/);
      const svg = await readFile(join(dir, "durability.svg"), "utf8");
      expect(svg).to.match(/^<svg /);
      expect(svg).to.include("6+3 clay");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("calibrates from a soak file, and names a bad one", async () => {
    const dir = await mkdtemp(join(tmpdir(), "durability-"));
    try {
      const good = join(dir, "soak.json");
      await writeFile(good, JSON.stringify({ epochSeconds: 30, faultToRepairEpochs: [5_800, 6_000], source: "test" }));
      const { stdout } = await durability(["--json", "--calibrate", good, ...SMALL]);
      expect(JSON.parse(stdout).assumptions.calibration).to.deep.equal({ repairs: 2, source: "test" });
      const bad = join(dir, "bad.json");
      await writeFile(bad, JSON.stringify({ epochSeconds: 30 }));
      const failed = await durability(["--calibrate", bad, ...SMALL]).then(
        () => undefined,
        (err: { code: number; stderr: string }) => err,
      );
      expect(failed?.code).to.equal(1);
      expect(failed?.stderr).to.match(/calibration .*bad\.json.*faultToRepairEpochs/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
