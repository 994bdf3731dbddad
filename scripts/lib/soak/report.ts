import { getAddress, type Address } from "viem";
import type { RepairDealStatusResponse } from "../../../actors-ts/protocol/repair-api";
import type { FaultKind } from "./chaos-plan";
import type { Conservation, ProofGas, RepairEvents } from "./chain-view";

/** The soak's report: what `--json` prints and `--out` writes as soak.json (and renders as HTML). */

/** One injected fault, as the soak did it. */
export interface FaultRecord {
  epoch: number;
  wallSeconds: number;
  kind: FaultKind | "burst";
  provider?: Address;
  /** What was done ("restarted on its data dir after 2 periods", …). */
  note: string;
  /** A recovery (a restart that ends a fault), not a fault of its own. */
  recovery?: boolean;
}

/** One repair job of the miner, joined with the fault that caused it. */
export interface RepairRecord {
  droot: string;
  indices: number[];
  status: string;
  /** The fault kind behind the loss ("unplanned" when the soak caused none on that provider). */
  kind: string;
  faultEpoch?: number;
  confirmedEpoch?: number;
  bytesDownloaded: number;
  /** How the miner rebuilt it, e.g. "clay file: sub-chunks from d helpers" (absent from older miners). */
  method?: string;
}

/** Percentiles of a list of numbers (nearest rank); all 0 for an empty list. */
export interface Distribution {
  count: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentiles of `values`. */
export function distribution(values: number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  const mean = sorted.length === 0 ? 0 : sorted.reduce((s, v) => s + v, 0) / sorted.length;
  return {
    count: sorted.length,
    min: sorted[0] ?? 0,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: sorted[sorted.length - 1] ?? 0,
    mean: Math.round(mean * 100) / 100,
  };
}

export interface SoakReport {
  ok: boolean;
  seed: number;
  mode: "quick" | "full";
  wallSeconds: number;
  providers: number;
  /** Proving periods the chaos phase ran. */
  periods: number;
  provingPeriodEpochs: number;
  /** Measured wall seconds per epoch of the soak's chain (for `npm run durability -- --calibrate`). */
  epochSeconds: number;
  /** One entry per repaired piece: epochs from the miner's fault to the replacement confirmed. */
  faultToRepairEpochs: number[];
  faultToRepairDistribution: Distribution;
  filesStored: number;
  filesIntact: number;
  filesLost: { droot: string; reason: string; beyondTolerance: boolean }[];
  /** Faults and recoveries, in order. */
  faults: FaultRecord[];
  /** Faults injected by kind (recoveries not counted). */
  faultsByKind: Record<string, number>;
  repairs: {
    total: number;
    confirmed: number;
    byKind: Record<string, number>;
    /** Jobs by how the miner rebuilt them (Clay sub-chunks, or k whole pieces). */
    byMethod: Record<string, number>;
    jobs: RepairRecord[];
  };
  bytesDownloadedPerRepair: number[];
  bytesDownloadedDistribution: Distribution;
  proofGas: { perProvider: ProofGas[]; note: string };
  fundsConserved: boolean;
  conservation: Conservation[];
  /** Daemons that exited without the soak killing them. */
  crashes: string[];
  source: string;
  dataDir: string;
}

/**
 * The miner's repair jobs, each labelled with the kind of the last fault the soak injected on the
 * provider whose loss the job repairs (from `PieceLost`), at or before the job's fault epoch.
 */
export function labelRepairs(
  deals: RepairDealStatusResponse[],
  events: RepairEvents,
  faults: FaultRecord[],
): RepairRecord[] {
  const jobs: RepairRecord[] = [];
  for (const deal of deals) {
    for (const job of deal.repairs) {
      const faultEpoch = job.faultEpoch === undefined ? undefined : Number(job.faultEpoch);
      const losses = events.lost
        .filter((l) => l.dealId === BigInt(deal.dealId) && job.indices.includes(l.index))
        .filter((l) => faultEpoch === undefined || l.epoch <= faultEpoch + 50)
        .sort((a, b) => b.epoch - a.epoch);
      const loss = losses[0];
      const fault = loss
        ? faults
            .filter((f) => f.provider && getAddress(f.provider) === loss.provider && f.epoch <= loss.epoch)
            .sort((a, b) => b.epoch - a.epoch)[0]
        : undefined;
      jobs.push({
        droot: deal.droot,
        indices: job.indices,
        status: job.status,
        kind: fault?.kind ?? "unplanned",
        faultEpoch,
        confirmedEpoch: job.confirmedEpoch === undefined ? undefined : Number(job.confirmedEpoch),
        bytesDownloaded: job.bytesDownloaded,
        method: job.method,
      });
    }
  }
  return jobs;
}

/** Counts of `keys`. */
export function countBy(keys: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of keys) out[k] = (out[k] ?? 0) + 1;
  return out;
}

/** Fault-to-confirmed-repair epochs, one entry per repaired piece of a confirmed job. */
export function repairEpochs(jobs: RepairRecord[]): number[] {
  return jobs.flatMap((j) =>
    j.faultEpoch !== undefined && j.confirmedEpoch !== undefined
      ? j.indices.map(() => (j.confirmedEpoch as number) - (j.faultEpoch as number))
      : [],
  );
}

/**
 * Repair jobs the miner still has in flight: every job whose status is not terminal. A job ends
 * `done` (its pieces re-placed and confirmed) or `lost` (more than m pieces gone: the burst's file);
 * counting `lost` as open made the drain wait out its whole bound.
 */
export function repairJobsInFlight(deals: Pick<RepairDealStatusResponse, "repairs">[]): number {
  return deals.reduce((n, d) => n + d.repairs.filter((r) => r.status !== "done" && r.status !== "lost").length, 0);
}

/**
 * A repair job's method as a report label: the miner's text up to its reason, e.g. "clay file: k
 * whole pieces (sub-chunk repair not used)" without the ": fewer than d helpers …" that follows
 * (the reasons are in the miner's log; as keys they made one bucket a repair).
 */
export function methodLabel(method: string | undefined): string {
  if (!method) return "unknown";
  return method.split("\n")[0].split(": ").slice(0, 2).join(": ");
}
