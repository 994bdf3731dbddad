import { expect } from "chai";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseCalibration } from "../../actors-ts/durability/calibration";
import type { SoakReport } from "../../scripts/lib/soak/report";
import { codingName } from "../../actors-ts/erasure/coding";
import { defaultCoding } from "../../actors-ts/erasure/layout";

const ROOT = join(__dirname, "..", "..");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/**
 * The quick soak's bound. Its goal is 5 minutes on a 2-core machine (the report's wall time says
 * where a run lands); in `npm test` it shares the machine with the other suites, so the bound that
 * fails the test is wider than the goal: a slow machine makes it slower, not wrong.
 */
const SOAK_TIMEOUT_MS = 12 * 60_000;

/**
 * Runs `npm run soak -- …` in a process group of its own; on timeout the whole group (the soak,
 * its devnet and daemons) is SIGKILLed, so nothing outlives the test.
 */
function soak(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("npm", ["run", "--silent", "soak", "--", ...args], {
      cwd: ROOT,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      if (child.pid) process.kill(-child.pid, "SIGKILL");
      reject(new Error(`soak did not finish within ${SOAK_TIMEOUT_MS / 1000} s:\n${stderr.slice(-4000)}`));
    }, SOAK_TIMEOUT_MS);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe("scripts/soak.ts: the durability promise under chaos (--quick --burst)", function () {
  this.timeout(SOAK_TIMEOUT_MS + 60_000);
  let out: string;
  let report: SoakReport;
  let stderr: string;

  before(async () => {
    out = await mkdtemp(join(tmpdir(), "rm-soak-"));
    const r = await soak(["--quick", "--burst", "--json", "--seed", "11", "--out", out]);
    stderr = r.stderr;
    expect(r.code, `${r.stdout.slice(-3000)}\n${r.stderr.slice(-4000)}`).to.equal(0);
    report = JSON.parse(r.stdout) as SoakReport;
  });

  after(async () => {
    if (out) await rm(out, { recursive: true, force: true });
  });

  it("loses no file, retrieves every file intact, confirms repairs and conserves every contract's funds", () => {
    expect(stderr).to.include("soak seed 11");
    expect(report.seed).to.equal(11);
    expect(report.mode).to.equal("quick");
    expect(report.filesStored).to.equal(5);
    // The one burst beyond tolerance (m + 1 pieces of one file lost at once, halfway): that file is
    // reported lost on chain with the client refunded, not hidden; every other file comes back.
    expect(report.faults.filter((f) => f.kind === "burst")).to.have.length(1);
    expect(report.filesLost, JSON.stringify(report.filesLost)).to.have.length(1);
    expect(report.filesLost[0].beyondTolerance).to.equal(true);
    expect(report.filesLost[0].reason).to.match(
      /^RepairDeal Lost on chain at epoch \d+, client refunded [1-9]\d* token base units$/,
    );
    expect(report.filesIntact).to.equal(report.filesStored - 1);
    expect(report.ok).to.equal(true);
    expect(report.source).to.equal("npm run soak -- --quick --burst --seed 11");
    expect(report.fundsConserved, JSON.stringify(report.conservation)).to.equal(true);
    expect(report.conservation.map((c) => c.contract)).to.deep.equal([
      "StorageMarket",
      "RepairMarket",
      "PaymentChannels",
    ]);
    expect(report.repairs.confirmed).to.be.at.least(1);
    expect(report.faults.length).to.be.at.least(3);
  });

  it("reports repairs by kind, the fault-to-repair distribution, bytes per repair and proof gas", () => {
    const kinds = Object.values(report.repairs.byKind).reduce((s, n) => s + n, 0);
    expect(kinds).to.equal(report.repairs.total);
    const methods = Object.values(report.repairs.byMethod).reduce((s, n) => s + n, 0);
    expect(methods).to.equal(report.repairs.total);
    // Each file takes the default code for its size and layout, as `client store --repair` would.
    const stored = [
      ...stderr.matchAll(/stored file \d+: (\d+) bytes as (\d+) \+ (\d+) (Clay \(d = \d+\)|Reed–Solomon),/g),
    ];
    expect(stored).to.have.length(report.filesStored);
    for (const [line, bytes, k, m, name] of stored) {
      expect(name, line).to.equal(codingName(defaultCoding(Number(bytes), Number(k), Number(m))));
    }
    expect(stored.some(([, , , , name]) => name.startsWith("Clay"))).to.equal(true);
    expect(report.faultToRepairEpochs.length).to.be.at.least(1);
    expect(report.faultToRepairEpochs.every((e) => e >= 0)).to.equal(true);
    const d = report.faultToRepairDistribution;
    expect(d.count).to.equal(report.faultToRepairEpochs.length);
    expect(d.min <= d.p50 && d.p50 <= d.p90 && d.p90 <= d.p99 && d.p99 <= d.max).to.equal(true);
    // A job whose piece proved again before the rebuild downloads nothing; the others download.
    expect(report.bytesDownloadedPerRepair.some((b) => b > 0)).to.equal(true);
    expect(report.proofGas.perProvider.length).to.be.at.least(5);
    for (const g of report.proofGas.perProvider) expect(g.gasPerProof).to.be.greaterThan(20_000);
    expect(report.epochSeconds).to.be.greaterThan(0);
  });

  it("is usable as `npm run durability -- --calibrate` input, and soak.json on disk is the same report", async () => {
    const calibration = parseCalibration(report, "soak report");
    expect(calibration.faultToRepairHours).to.have.length(report.faultToRepairEpochs.length);
    const onDisk = JSON.parse(await readFile(join(out, "soak.json"), "utf8")) as SoakReport;
    expect(onDisk.seed).to.equal(report.seed);
    expect(onDisk.faultToRepairEpochs).to.deep.equal(report.faultToRepairEpochs);
  });

  it("the HTML report renders in headless Chromium: both distributions and the timeline drawn", async function () {
    if (!existsSync(CHROMIUM)) {
      if (process.env.RM_REQUIRE_CHROMIUM === "1")
        throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium`);
      this.skip();
    }
    const { chromium } = await import("playwright-core");
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(pathToFileURL(join(out, "soak.html")).href);
      await page.waitForSelector("body[data-ready='1']", { timeout: 20_000 });
      expect(await page.textContent("#verdict")).to.match(/^PASS/);
      expect(await page.$$eval("#repair-epochs rect.bar", (r) => r.length)).to.be.greaterThan(0);
      expect(await page.$$eval("#repair-bytes rect.bar", (r) => r.length)).to.be.greaterThan(0);
      expect(await page.$$eval("#timeline circle.fault", (c) => c.length)).to.equal(report.faults.length);
      expect(await page.$$eval("#timeline rect.repair", (r) => r.length)).to.be.at.least(1);
      const funds = await page.$$eval("#funds tbody tr", (trs) => trs.length);
      expect(funds).to.equal(3);
      expect(errors).to.deep.equal([]);
    } finally {
      await browser.close();
    }
  });
});
