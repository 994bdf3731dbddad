import {
  HOURS_PER_YEAR,
  detectionHours,
  placementHours,
  type DurabilityAssumptions,
  type RepairScheme,
} from "./assumptions";
import type { Calibration } from "./calibration";
import type { GroupPlacement } from "./fleet";
import { lossProbability, chainFor, markovFigures, type MarkovFigures } from "./markov";
import { simulate, type SimulationReport } from "./simulate";

/** A file layout to report on. */
export interface Layout {
  /** As the table prints it, e.g. "4+2 rs". */
  name: string;
  k: number;
  m: number;
  scheme: RepairScheme;
}

/** The default table's layouts: 4 + 2 and 10 + 4 with either repair scheme, and two copies. */
export const DEFAULT_LAYOUTS: readonly Layout[] = [
  { name: "4+2 rs", k: 4, m: 2, scheme: "rs" },
  { name: "4+2 clay", k: 4, m: 2, scheme: "clay" },
  { name: "10+4 rs", k: 10, m: 4, scheme: "rs" },
  { name: "10+4 clay", k: 10, m: 4, scheme: "clay" },
  { name: "2 copies", k: 1, m: 1, scheme: "rs" },
];

/** Everything `npm run durability` takes. */
export interface DurabilityOptions {
  /** The model's assumptions apart from the layout. */
  base: Omit<DurabilityAssumptions, "k" | "m" | "scheme">;
  layouts: readonly Layout[];
  /** Simulated fleet: files, providers, operator groups, horizon (years), seed, repair slots. */
  files: number;
  providers: number;
  groups: number;
  /** Rate at which one operator group loses all its providers at once, per year. */
  groupFailuresPerYear: number;
  years: number;
  seed: number;
  repairSlots: number;
  calibration?: Calibration;
  /** Run the Monte Carlo simulation (false: the Markov figures only). */
  simulate: boolean;
}

/** One row of the table. */
export interface DurabilityRow {
  layout: string;
  k: number;
  m: number;
  scheme: RepairScheme;
  /** `independent`: providers fail one by one (the Markov model's case); `correlated`: groups too. */
  failures: "independent" | "correlated";
  /** With correlated failures: whether placement spread the pieces over groups. */
  groupPlacement?: GroupPlacement;
  /** The Markov model's figures (independent rows only: the model has no groups). */
  markov?: MarkovFigures;
  simulation?: SimulationReport;
}

/** The whole report (`--json` prints it). */
export interface DurabilityReport {
  assumptions: DurabilityOptions["base"] & {
    detectionHours: number;
    placementHours: number;
    files: number;
    providers: number;
    groups: number;
    groupFailuresPerYear: number;
    years: number;
    seed: number;
    repairSlots: number | "unlimited";
    calibration?: { repairs: number; source?: string };
  };
  rows: DurabilityRow[];
  /** Markov annual loss probability against the provider failure rate, per layout, for the plot. */
  curves: { layout: string; points: { failuresPerYear: number; annualLossProbability: number }[] }[];
  wallMs: number;
}

/** Provider failure rates (per year) the plot's curves are computed at: 0.01 to 1, log-spaced. */
export const CURVE_RATES: readonly number[] = Array.from({ length: 21 }, (_, i) => 10 ** (-2 + i / 10));

/**
 * Builds the report: for each layout the Markov figures and (with `simulate`) a Monte Carlo run of
 * the fleet with independent failures; then, for the first layout of each (k, m) with groups > 1,
 * runs with group failures placed ignoring groups and spread over them.
 *
 * @throws RangeError from the model or the simulation for inconsistent options.
 * @example durabilityReport({ ...options, layouts: DEFAULT_LAYOUTS }).rows[0].markov?.mttdlYears
 */
export function durabilityReport(o: DurabilityOptions): DurabilityReport {
  const started = Date.now();
  const rows: DurabilityRow[] = [];
  const sim = (a: DurabilityAssumptions, groups: number, groupPlacement: GroupPlacement): SimulationReport =>
    simulate({
      assumptions: a,
      files: o.files,
      providers: o.providers,
      groups,
      groupFailuresPerYear: groups > 1 ? o.groupFailuresPerYear : 0,
      groupPlacement,
      years: o.years,
      seed: o.seed,
      repairSlots: o.repairSlots,
      timing: "periodic",
      calibration: o.calibration,
    });
  for (const l of o.layouts) {
    const a = { ...o.base, k: l.k, m: l.m, scheme: l.scheme };
    const row: DurabilityRow = { layout: l.name, k: l.k, m: l.m, scheme: l.scheme, failures: "independent" };
    row.markov = markovFigures(a);
    if (o.simulate) row.simulation = sim(a, 1, "ignore");
    rows.push(row);
  }
  if (o.simulate && o.groups > 1 && o.groupFailuresPerYear > 0) {
    const seen = new Set<string>();
    for (const l of o.layouts) {
      if (seen.has(`${l.k}+${l.m}`)) continue;
      seen.add(`${l.k}+${l.m}`);
      const a = { ...o.base, k: l.k, m: l.m, scheme: l.scheme };
      for (const groupPlacement of ["ignore", "spread"] as const) {
        const simulation = sim(a, o.groups, groupPlacement);
        rows.push({
          layout: l.name,
          k: l.k,
          m: l.m,
          scheme: l.scheme,
          failures: "correlated",
          groupPlacement,
          simulation,
        });
      }
    }
  }
  return { assumptions: describe(o), rows, curves: curves(o), wallMs: Date.now() - started };
}

function describe(o: DurabilityOptions): DurabilityReport["assumptions"] {
  const a = { ...o.base, k: 1, m: 1, scheme: "rs" as const };
  return {
    ...o.base,
    detectionHours: detectionHours(a),
    placementHours: placementHours(a),
    files: o.files,
    providers: o.providers,
    groups: o.groups,
    groupFailuresPerYear: o.groupFailuresPerYear,
    years: o.years,
    seed: o.seed,
    repairSlots: Number.isFinite(o.repairSlots) ? o.repairSlots : "unlimited",
    calibration: o.calibration && { repairs: o.calibration.faultToRepairHours.length, source: o.calibration.source },
  };
}

function curves(o: DurabilityOptions): DurabilityReport["curves"] {
  return o.layouts.map((l) => ({
    layout: l.name,
    points: CURVE_RATES.map((failuresPerYear) => ({
      failuresPerYear,
      annualLossProbability: lossProbability(
        chainFor({ ...o.base, providerFailuresPerYear: failuresPerYear, k: l.k, m: l.m, scheme: l.scheme }),
        HOURS_PER_YEAR,
      ),
    })),
  }));
}
