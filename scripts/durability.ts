/**
 * `npm run durability`: the durability promise as numbers. For each layout (default 4 + 2 and
 * 10 + 4, Reed–Solomon and Clay repair, and two copies), the Markov model's mean time to data loss,
 * annual loss probability and losses per million files per year, beside a seeded Monte Carlo
 * simulation of a fleet run with the repair miner's own priority and placement rules; then rows
 * with operator groups failing together, placement ignoring or spreading over them. The model and
 * its assumptions: docs/decisions.md 41.
 *
 *   npm run durability
 *   npm run durability -- --k 6 --m 3 --scheme clay --failures-per-year 0.2 --json
 *   npm run durability -- --calibrate soak.json --out durability-report
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import { DEFAULT_ASSUMPTIONS } from "../actors-ts/durability/assumptions";
import { loadCalibration } from "../actors-ts/durability/calibration";
import { DEFAULT_LAYOUTS, durabilityReport, type Layout } from "../actors-ts/durability/report";
import { formatTable, plotSvg } from "./lib/durability-output";

/** The parsed options (commander's camelCase names). */
interface DurabilityCliOptions {
  k?: number;
  m?: number;
  scheme: "rs" | "clay";
  clayD?: number;
  failuresPerYear: number;
  epochSeconds: number;
  provingPeriodHours: number;
  confirmations: number;
  detectionHours?: number;
  placementHours?: number;
  pieceSizeMib: number;
  bandwidthMbit: number;
  files: number;
  providers: number;
  groups: number;
  groupFailuresPerYear: number;
  years: number;
  seed: number;
  repairSlots: number;
  simulate: boolean;
  calibrate?: string;
  json?: boolean;
  out?: string;
}

function numberIn(min: number, max = Infinity, integer = false): (value: string) => number {
  return (value) => {
    const n = value.trim() === "unlimited" ? Infinity : Number(value);
    if (
      value.trim() === "" ||
      Number.isNaN(n) ||
      n < min ||
      n > max ||
      (integer && Number.isFinite(n) && !Number.isInteger(n))
    ) {
      throw new InvalidArgumentError(
        `expected ${integer ? "an integer" : "a number"} from ${min}${max === Infinity ? " up" : ` to ${max}`}`,
      );
    }
    return n;
  };
}

const d = DEFAULT_ASSUMPTIONS;
const program = new Command("durability")
  .description("MTTDL and annual loss probability of repair-backed files (Markov model and Monte Carlo)")
  .option("--k <n>", "data pieces (with --m: report on this layout and two copies only)", numberIn(1, 64, true))
  .option("--m <n>", "parity pieces", numberIn(1, 32, true))
  .addOption(
    new Option("--scheme <scheme>", "repair download: rs (k pieces) or clay (d/(d−k+1))")
      .choices(["rs", "clay"])
      .default("rs"),
  )
  .option("--clay-d <n>", "Clay helpers d (default n − 1)", numberIn(1, 96, true))
  .option(
    "--failures-per-year <rate>",
    "rate at which one provider loses all it holds, per year",
    numberIn(0),
    d.providerFailuresPerYear,
  )
  .option("--epoch-seconds <s>", "seconds per epoch", numberIn(0.001), d.epochSeconds)
  .option("--proving-period-hours <h>", "proving period, hours", numberIn(0.001), d.provingPeriodHours)
  .option(
    "--confirmations <epochs>",
    "blocks the miner's watcher stays behind the head",
    numberIn(0, Infinity, true),
    d.confirmationEpochs,
  )
  .option("--detection-hours <h>", "loss to fault seen, hours (default: a whole period + confirmations)", numberIn(0))
  .option(
    "--placement-hours <h>",
    "rebuilt piece to replacement confirmed, hours (default: 2 periods + 5 epochs)",
    numberIn(0),
  )
  .option("--piece-size-mib <MiB>", "piece size, MiB", numberIn(0.001), d.pieceSizeBytes / 2 ** 20)
  .option(
    "--bandwidth-mbit <Mbit/s>",
    "repair download rate, Mbit/s",
    numberIn(0.001),
    (d.repairBandwidthBytesPerSecond * 8) / 1e6,
  )
  .option("--files <n>", "simulated files", numberIn(1, 1e8, true), 10_000)
  .option("--providers <n>", "simulated providers", numberIn(2, 1e7, true), 1_000)
  .option("--groups <n>", "operator groups for the correlated rows (1: none)", numberIn(1, 1e6, true), 20)
  .option(
    "--group-failures-per-year <rate>",
    "rate at which a group loses all its providers at once, per year",
    numberIn(0),
    0.01,
  )
  .option("--years <n>", "simulated years", numberIn(0.001), 10)
  .option("--seed <n>", "simulation seed", numberIn(0, 2 ** 32 - 1, true), 1)
  .option(
    "--repair-slots <n>",
    "repair jobs downloading at once (one miner's maxRepairsPerIteration; 'unlimited')",
    numberIn(1),
    2,
  )
  .option("--no-simulate", "the Markov figures only")
  .option("--calibrate <file>", "repair durations from a soak report: { epochSeconds, faultToRepairEpochs: [...] }")
  .option("--json", "print one JSON report on stdout")
  .option("--out <dir>", "also write durability.svg and durability.json there")
  .action((o: DurabilityCliOptions) => run(o));

function layoutsOf(o: DurabilityCliOptions): readonly Layout[] {
  if (o.k === undefined && o.m === undefined) return DEFAULT_LAYOUTS;
  const k = o.k ?? 4;
  const m = o.m ?? 2;
  return [
    { name: `${k}+${m} ${o.scheme}`, k, m, scheme: o.scheme },
    { name: "2 copies", k: 1, m: 1, scheme: "rs" },
  ];
}

function run(o: DurabilityCliOptions): void {
  const report = durabilityReport({
    base: {
      clayHelpers: o.clayD,
      providerFailuresPerYear: o.failuresPerYear,
      epochSeconds: o.epochSeconds,
      provingPeriodHours: o.provingPeriodHours,
      confirmationEpochs: o.confirmations,
      detectionHours: o.detectionHours,
      placementHours: o.placementHours,
      pieceSizeBytes: o.pieceSizeMib * 2 ** 20,
      repairBandwidthBytesPerSecond: (o.bandwidthMbit * 1e6) / 8,
    },
    layouts: layoutsOf(o),
    files: o.files,
    providers: o.providers,
    groups: o.groups,
    groupFailuresPerYear: o.groupFailuresPerYear,
    years: o.years,
    seed: o.seed,
    repairSlots: o.repairSlots,
    calibration: o.calibrate ? loadCalibration(o.calibrate) : undefined,
    simulate: o.simulate,
  });
  const json = JSON.stringify(report, (_k, v: unknown) => (v === Infinity ? "Infinity" : v), 2);
  if (o.out) {
    mkdirSync(o.out, { recursive: true });
    writeFileSync(join(o.out, "durability.svg"), plotSvg(report));
    writeFileSync(join(o.out, "durability.json"), json + "\n");
  }
  process.stdout.write(o.json ? json + "\n" : formatTable(report) + "\n");
  if (o.out && !o.json) process.stdout.write(`plot: ${join(o.out, "durability.svg")}\n`);
}

try {
  program.parse();
} catch (err) {
  process.stderr.write(`durability: ${(err as Error).message}\n`);
  process.exit(1);
}
