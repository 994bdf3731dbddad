import { byRepairPriority } from "../repair/source-order";
import {
  HOURS_PER_YEAR,
  checkAssumptions,
  detectionHours,
  downloadHours,
  pieceCount,
  placementHours,
  restoreHours,
  type DurabilityAssumptions,
} from "./assumptions";
import type { Calibration } from "./calibration";
import { EventQueue, type SimEvent } from "./event-queue";
import { Fleet, PieceState, type GroupPlacement } from "./fleet";
import { SimRandom } from "./random";
import { scaled, wilson, type Interval } from "./stats";

/**
 * How long each step of a repair takes in the simulation:
 * - `periodic` (default): a loss shows at its provider's next missed period end, uniform over one
 *   proving period, plus the confirmations; the download is pieces × size ÷ bandwidth; placement
 *   takes {@link placementHours};
 * - `exponential`: the Markov model's assumption, for checking one against the other: the whole
 *   restore time is exponential with mean {@link restoreHours}, drawn at the loss; the download and
 *   placement take no further time.
 * With a {@link Calibration}, `periodic` draws download + placement from the soak's measured
 * fault-to-confirmed times instead.
 */
export type SimTiming = "periodic" | "exponential";

/** One simulation run's inputs. */
export interface SimulationParams {
  assumptions: DurabilityAssumptions;
  files: number;
  providers: number;
  /** Operator groups (1: none); provider p is in group p mod groups. */
  groups: number;
  /** Rate at which one group loses all its providers at once, per year (0: none). */
  groupFailuresPerYear: number;
  groupPlacement: GroupPlacement;
  /** Horizon, years. */
  years: number;
  seed: number;
  /**
   * Repair jobs downloading at once across the fleet (Infinity: no limit). One repair miner runs
   * `maxRepairsPerIteration` (default 2); queued jobs start riskiest first by the miner's own
   * {@link byRepairPriority}, at most one per file, and a job rebuilds every queued loss of its file.
   */
  repairSlots: number;
  timing: SimTiming;
  calibration?: Calibration;
}

/** What a run saw. */
export interface SimulationReport {
  files: number;
  providers: number;
  groups: number;
  years: number;
  seed: number;
  timing: SimTiming | "calibrated";
  /** Files lost (more than m pieces lost at once). */
  filesLost: number;
  /** Σ over files of the years each was at risk (until the horizon or its loss). */
  fileYears: number;
  /** Fraction of files lost within the horizon, with a 95 % Wilson interval. */
  lostWithinHorizon: Interval;
  /** Losses per million file-years, with a 95 % Wilson interval over the exposure. */
  lossesPerMillionFileYears: Interval;
  providerFailures: number;
  groupFailures: number;
  pieceLosses: number;
  repairJobs: number;
  /** Mean hours from a piece's loss to its replacement confirmed. */
  meanRestoreHours: number;
  /** Longest the repair queue grew (pieces waiting for a slot). */
  maxRepairQueue: number;
  events: number;
  wallMs: number;
}

/**
 * Runs the event-driven Monte Carlo simulation of a fleet (see {@link SimulationParams}). Every
 * provider fails as a Poisson process at `providerFailuresPerYear` (and every group at
 * `groupFailuresPerYear`) and comes back empty at once; its pieces are lost, found after the
 * detection delay, rebuilt in a repair slot and placed by the placer's rule on a provider holding
 * no other piece of the file. A file is lost when more than m of its pieces are lost at once (the
 * chain counts a replacement lost until it is confirmed) and is not repaired after that.
 *
 * @throws RangeError for inconsistent sizes (fewer than n + 1 providers, groups too small for the
 *   spread) or assumptions out of range.
 * @example simulate({ assumptions, files: 10_000, providers: 500, groups: 1, groupFailuresPerYear: 0,
 *   groupPlacement: "ignore", years: 5, seed: 1, repairSlots: Infinity, timing: "periodic" }).lossesPerMillionFileYears
 */
export function simulate(params: SimulationParams): SimulationReport {
  const started = Date.now();
  const run = new Simulation(params);
  run.run();
  return run.report(Date.now() - started);
}

/** Simulated hours between two rankings of the repair queue. */
const RANK_INTERVAL_HOURS = 1;

class Simulation {
  private readonly fleet: Fleet;
  private readonly random: SimRandom;
  /** The failure processes' own stream: the same seed gives the same failures whatever the policy. */
  private readonly failures: SimRandom;
  private rankedAt = -Infinity;
  private readonly events = new EventQueue();
  private readonly horizon: number;
  private readonly n: number;
  private queue: number[] = [];
  /** Entries before this index have left the queue (started or stale). */
  private head = 0;
  private queueDirty = false;
  private busy = 0;
  private readonly running: Uint8Array;
  /** Pieces of each file waiting in the repair queue (a change to such a file re-ranks the queue). */
  private readonly queued: Uint8Array;
  private now = 0;
  private readonly counts = { providerFailures: 0, groupFailures: 0, pieceLosses: 0, repairJobs: 0, events: 0 };
  private restoreSum = 0;
  private restores = 0;
  private maxQueue = 0;

  constructor(private readonly p: SimulationParams) {
    checkAssumptions(p.assumptions);
    this.n = pieceCount(p.assumptions);
    checkFleet(p, this.n);
    this.random = new SimRandom(p.seed ^ 0x5bd1e995);
    this.failures = new SimRandom(p.seed);
    this.horizon = p.years * HOURS_PER_YEAR;
    this.fleet = new Fleet(
      {
        files: p.files,
        providers: p.providers,
        groups: p.groups,
        n: this.n,
        placement: p.groupPlacement,
        pieceSizeBytes: p.assumptions.pieceSizeBytes,
      },
      this.random,
    );
    this.running = new Uint8Array(p.files);
    this.queued = new Uint8Array(p.files);
  }

  run(): void {
    this.fleet.placeAll();
    this.scheduleFailure("providerFailure");
    this.scheduleFailure("groupFailure");
    for (let e = this.events.pop(); e && e.time <= this.horizon; e = this.events.pop()) {
      this.now = e.time;
      this.counts.events++;
      this.dispatch(e);
    }
  }

  private dispatch(e: SimEvent): void {
    if (e.kind === "providerFailure") {
      this.counts.providerFailures++;
      this.providerFails(e.subject);
      this.scheduleFailure("providerFailure");
    } else if (e.kind === "groupFailure") {
      this.counts.groupFailures++;
      for (let p = e.subject; p < this.p.providers; p += this.p.groups) this.providerFails(p);
      this.scheduleFailure("groupFailure");
    } else if (e.kind === "rebuilt") {
      this.rebuilt(e.subject);
    } else if (this.fleet.generation[e.subject] === e.generation && this.alive(e.subject)) {
      if (e.kind === "detected") this.detected(e.subject);
      else this.placed(e.subject);
    }
  }

  /** The next failure of the fleet's providers (rate P·λ) or groups (rate G·λ_G), at random. */
  private scheduleFailure(kind: "providerFailure" | "groupFailure"): void {
    const perYear =
      kind === "providerFailure"
        ? this.p.providers * this.p.assumptions.providerFailuresPerYear
        : this.p.groups * this.p.groupFailuresPerYear;
    if (!(perYear > 0)) return;
    const time = this.now + this.failures.exponential(HOURS_PER_YEAR / perYear);
    const subject = this.failures.below(kind === "providerFailure" ? this.p.providers : this.p.groups);
    this.events.push({ time, kind, subject, generation: 0 });
  }

  private alive(piece: number): boolean {
    return Number.isNaN(this.fleet.fileLostAt[this.fleet.fileOf(piece)]);
  }

  /**
   * A provider loses everything. Its pieces sit in one data set per client, here the miner's
   * worker, so they all fault at the same period end: one detection delay for all of them.
   */
  private providerFails(p: number): void {
    const f = this.fleet;
    const delay = this.p.timing === "periodic" ? this.detectionDelay(0) : undefined;
    for (const piece of [...f.held[p]]) {
      f.detach(piece);
      f.generation[piece]++;
      if (f.state[piece] === PieceState.Placing) {
        // The new provider died before its deal was proven: the miner still holds the rebuilt
        // copy; the loss is found like any other and the piece placed again without a download.
        f.state[piece] = PieceState.Lost;
        this.schedule("detected", piece, delay ?? this.detectionDelay(piece));
      } else {
        this.pieceLost(piece, delay);
      }
    }
  }

  private pieceLost(piece: number, delay?: number): void {
    const f = this.fleet;
    const file = f.fileOf(piece);
    this.counts.pieceLosses++;
    f.state[piece] = PieceState.Lost;
    f.lostAt[piece] = this.now;
    f.lost[file]++;
    if (this.queued[file] > 0) this.queueDirty = true;
    if (f.lost[file] > this.p.assumptions.m) return this.fileLost(file);
    this.schedule("detected", piece, delay ?? this.detectionDelay(piece));
  }

  private fileLost(file: number): void {
    const f = this.fleet;
    f.fileLostAt[file] = this.now;
    this.queued[file] = 0;
    for (let j = file * this.n; j < (file + 1) * this.n; j++) {
      f.detach(j);
      f.generation[j]++;
      f.state[j] = PieceState.Lost;
    }
  }

  private detectionDelay(piece: number): number {
    const a = this.p.assumptions;
    if (this.p.timing === "exponential") {
      return this.random.exponential(restoreHours(a, this.fleet.lost[this.fleet.fileOf(piece)]));
    }
    return this.random.next() * a.provingPeriodHours + (detectionHours(a) - a.provingPeriodHours);
  }

  private schedule(kind: SimEvent["kind"], subject: number, delay: number): void {
    const generation = kind === "rebuilt" ? 0 : this.fleet.generation[subject];
    this.events.push({ time: this.now + delay, kind, subject, generation });
  }

  private detected(piece: number): void {
    const f = this.fleet;
    if (f.heldLocally[piece]) return this.startPlacement(piece);
    f.state[piece] = PieceState.Queued;
    this.queued[f.fileOf(piece)]++;
    this.queue.push(piece);
    this.queueDirty = true;
    this.maxQueue = Math.max(this.maxQueue, this.queue.length - this.head);
    this.startRepairs();
  }

  /**
   * Starts queued jobs riskiest first (the miner's byRepairPriority) while slots are free. The
   * queue is ranked again when a queued file changed, at most once per simulated hour (a backlog of
   * thousands would otherwise be sorted at every start); newer arrivals wait at its end till then.
   */
  private startRepairs(): void {
    const f = this.fleet;
    while (this.busy < this.p.repairSlots && this.queue.length > 0) {
      if (this.queueDirty && this.now - this.rankedAt >= RANK_INTERVAL_HOURS) {
        this.rankedAt = this.now;
        const live = this.queue.filter((piece) => f.state[piece] === PieceState.Queued && this.alive(piece));
        this.queue = byRepairPriority(
          live.map((piece) => ({
            piece,
            healthyPieces: this.n - f.lost[f.fileOf(piece)],
            endEpoch: f.endEpoch[f.fileOf(piece)],
          })),
        ).map((c) => c.piece);
        this.head = 0;
        this.queueDirty = false;
      }
      const q = this.queue;
      while (this.head < q.length && f.state[q[this.head]] !== PieceState.Queued) this.head++;
      let at = this.head;
      while (at < q.length && (f.state[q[at]] !== PieceState.Queued || this.running[f.fileOf(q[at])])) at++;
      if (at >= q.length) break;
      this.startJob(f.fileOf(q[at]));
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  /** One job per file: one download rebuilds every queued loss of the file. */
  private startJob(file: number): void {
    const f = this.fleet;
    for (let j = file * this.n; j < (file + 1) * this.n; j++) {
      if (f.state[j] === PieceState.Queued) f.state[j] = PieceState.Rebuilding;
    }
    this.queued[file] = 0;
    this.busy++;
    this.running[file] = 1;
    this.counts.repairJobs++;
    const a = this.p.assumptions;
    const download = this.p.timing === "exponential" ? 0 : downloadHours(a, f.lost[file]);
    this.schedule("rebuilt", file, download);
  }

  private rebuilt(file: number): void {
    const f = this.fleet;
    this.busy--;
    this.running[file] = 0;
    if (Number.isNaN(f.fileLostAt[file])) {
      for (let j = file * this.n; j < (file + 1) * this.n; j++) {
        if (f.state[j] === PieceState.Rebuilding) this.startPlacement(j);
      }
    }
    this.startRepairs();
  }

  private startPlacement(piece: number): void {
    const f = this.fleet;
    f.state[piece] = PieceState.Placing;
    f.heldLocally[piece] = 1;
    const p = f.choose(piece);
    if (p === undefined) return this.schedule("placed", piece, 1); // nobody free: look again in an hour
    f.attach(piece, p);
    this.schedule("placed", piece, this.placementDelay());
  }

  private placementDelay(): number {
    const a = this.p.assumptions;
    if (this.p.timing === "exponential") return 0;
    const measured = this.p.calibration?.faultToRepairHours;
    if (measured) return Math.max(0, this.random.pick(measured) - downloadHours(a, 1));
    return placementHours(a);
  }

  private placed(piece: number): void {
    const f = this.fleet;
    if (f.provider[piece] < 0) return this.startPlacement(piece);
    f.state[piece] = PieceState.Healthy;
    f.heldLocally[piece] = 0;
    f.lost[f.fileOf(piece)]--;
    if (this.queued[f.fileOf(piece)] > 0) this.queueDirty = true;
    this.restoreSum += this.now - f.lostAt[piece];
    this.restores++;
  }

  report(wallMs: number): SimulationReport {
    const f = this.fleet;
    let filesLost = 0;
    let fileHours = 0;
    for (let i = 0; i < this.p.files; i++) {
      const lostAt = f.fileLostAt[i];
      if (!Number.isNaN(lostAt)) filesLost++;
      fileHours += Number.isNaN(lostAt) ? this.horizon : Math.min(lostAt, this.horizon);
    }
    const fileYears = fileHours / HOURS_PER_YEAR;
    return {
      files: this.p.files,
      providers: this.p.providers,
      groups: this.p.groups,
      years: this.p.years,
      seed: this.p.seed,
      timing: this.p.calibration && this.p.timing === "periodic" ? "calibrated" : this.p.timing,
      filesLost,
      fileYears,
      lostWithinHorizon: wilson(filesLost, this.p.files),
      lossesPerMillionFileYears: scaled(wilson(filesLost, Math.max(fileYears, filesLost)), 1e6),
      ...this.counts,
      meanRestoreHours: this.restores > 0 ? this.restoreSum / this.restores : 0,
      maxRepairQueue: this.maxQueue,
      wallMs,
    };
  }
}

function checkFleet(p: SimulationParams, n: number): void {
  if (!Number.isInteger(p.files) || p.files < 1) throw new RangeError(`files must be an integer ≥ 1, got ${p.files}`);
  if (!Number.isInteger(p.groups) || p.groups < 1) throw new RangeError(`groups must be an integer ≥ 1`);
  if (!Number.isInteger(p.providers) || p.providers < n + 1) {
    throw new RangeError(
      `providers must be ≥ n + 1 = ${n + 1} (a repair needs one holding no piece), got ${p.providers}`,
    );
  }
  // A group at its cap must still have a provider free to take a repaired piece of its own.
  const cap = Math.ceil(n / p.groups);
  if (p.groupPlacement === "spread" && Math.floor(p.providers / p.groups) < cap + 1) {
    throw new RangeError(
      `${p.groups} groups of ${Math.floor(p.providers / p.groups)} providers cannot spread ${n} pieces ${cap} per group`,
    );
  }
  if (!(p.years > 0) || !(p.repairSlots >= 1) || !(p.groupFailuresPerYear >= 0)) {
    throw new RangeError("years must be > 0, repairSlots ≥ 1 and groupFailuresPerYear ≥ 0");
  }
}
