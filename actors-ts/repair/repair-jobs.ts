import { stringifyJson } from "../core/json";
import type { SqliteDatabase } from "../core/database";
import { toRepair, type RawRepair, type RepairJobRow } from "./repair-rows";
import type { RepairStore } from "./repair-store";
import { byRepairPriority } from "./source-order";
import { uncoveredLosses } from "./uncovered-losses";

/**
 * The repair miner's repair queue (seed 003), in the repair store's database: one job per set of
 * lost pieces of a deal, `queued` → running → `rebuilt` (its pieces handed to placement) → done or
 * failed. Every change is one SQLite transaction, so a crash leaves each loss covered by exactly
 * one job. Reached as `RepairStore.jobs`.
 */
export class RepairJobs {
  constructor(
    private readonly db: SqliteDatabase,
    /** The store's piece and deal rows, which a hand-over updates. */
    private readonly pieces: Pick<RepairStore, "deal" | "piece" | "pieces" | "updatePiece">,
  ) {}

  /**
   * Adds lost pieces to the deal's queued repair job, or creates one (a job already rebuilding
   * keeps its set; a later loss gets its own job).
   */
  queue(dealId: bigint, indices: number[], faultEpoch: bigint): void {
    this.db.transaction(() => {
      const open = this.db
        .prepare("SELECT * FROM repairs WHERE deal_id = ? AND status IN ('queued', 'rebuilt') ORDER BY id")
        .all(dealId.toString()) as RawRepair[];
      const covered = new Set(open.flatMap((r) => JSON.parse(r.indices_json) as number[]));
      const fresh = indices.filter((i) => !covered.has(i));
      if (fresh.length === 0) return;
      const queued = open.find((r) => r.status === "queued");
      if (queued) {
        const merged = [...new Set([...(JSON.parse(queued.indices_json) as number[]), ...fresh])].sort((a, b) => a - b);
        this.db.prepare("UPDATE repairs SET indices_json = ? WHERE id = ?").run(JSON.stringify(merged), queued.id);
        return;
      }
      this.db
        .prepare(
          "INSERT INTO repairs (deal_id, indices_json, status, fault_epoch, created_at) VALUES (?, ?, 'queued', ?, ?)",
        )
        .run(dealId.toString(), JSON.stringify(fresh), faultEpoch.toString(), Date.now());
    })();
  }

  /**
   * Queues the deal's lost pieces that no queued job covers (see {@link uncoveredLosses}),
   * first taking them out of any "rebuilt" job that still lists them.
   *
   * @returns The indices queued.
   */
  queueUncoveredLosses(dealId: bigint, faultEpoch: bigint): number[] {
    return this.db.transaction(() => {
      const jobs = this.list().filter((j) => j.dealId === dealId);
      const pieces = this.pieces.pieces(dealId);
      const k = this.pieces.deal(dealId)?.k ?? 0;
      // Fewer than k pieces left: nothing can be rebuilt; the file's loss is the chain's to call.
      if (pieces.filter((p) => p.state !== "lost").length < k) return [];
      const missing = uncoveredLosses(pieces, jobs);
      if (missing.length === 0) return missing;
      for (const job of jobs.filter((j) => j.status === "rebuilt" && j.indices.some((i) => missing.includes(i)))) {
        this.db
          .prepare("UPDATE repairs SET indices_json = ? WHERE id = ?")
          .run(JSON.stringify(job.indices.filter((i) => !missing.includes(i))), job.id);
      }
      this.queue(dealId, missing, faultEpoch);
      return missing;
    })();
  }

  /** Every job, oldest first, optionally only those in `status`. */
  list(status?: RepairJobRow["status"][]): RepairJobRow[] {
    return (this.db.prepare("SELECT * FROM repairs ORDER BY id").all() as RawRepair[])
      .map(toRepair)
      .filter((r) => !status || status.includes(r.status));
  }

  /**
   * The repairs to run in one repairer pass (seed 002: at most N repair requests per iteration,
   * the riskiest first): queued jobs due by `now`, ranked by {@link byRepairPriority} (fewest
   * healthy pieces, then the deal that ends soonest, then oldest), at most one per deal (two runs
   * of one deal would rebuild the same pieces), at most `limit` of them.
   *
   * @param now Wall-clock time, ms since the epoch.
   * @param limit Largest number of jobs returned, ≥ 1.
   */
  nextBatch(now: number, limit: number): RepairJobRow[] {
    const due = this.list(["queued"]).filter((j) => j.nextAttemptAt <= now);
    const ranked = byRepairPriority(
      due.map((job) => ({
        job,
        healthyPieces: this.pieces.pieces(job.dealId).filter((p) => p.state !== "lost").length,
        endEpoch: this.pieces.deal(job.dealId)?.endEpoch ?? 0n,
      })),
    );
    const deals = new Set<bigint>();
    const batch: RepairJobRow[] = [];
    for (const { job } of ranked) {
      if (batch.length >= limit) break;
      if (deals.has(job.dealId)) continue;
      deals.add(job.dealId);
      batch.push(job);
    }
    return batch;
  }

  /** Job `id`, undefined when there is none. */
  get(id: number): RepairJobRow | undefined {
    const r = this.db.prepare("SELECT * FROM repairs WHERE id = ?").get(id) as RawRepair | undefined;
    return r && toRepair(r);
  }

  /** Updates a job's fields (only those given). */
  update(
    id: number,
    fields: Partial<
      Pick<
        RepairJobRow,
        "status" | "attempts" | "nextAttemptAt" | "error" | "reassignedEpoch" | "confirmedEpoch" | "finishedAt"
      >
    >,
  ): void {
    const columns: Record<string, unknown> = {};
    if (fields.status !== undefined) columns.status = fields.status;
    if (fields.attempts !== undefined) columns.attempts = fields.attempts;
    if (fields.nextAttemptAt !== undefined) columns.next_attempt_at = fields.nextAttemptAt;
    if ("error" in fields) columns.error = fields.error ?? null;
    if (fields.reassignedEpoch !== undefined) columns.reassigned_epoch = fields.reassignedEpoch.toString();
    if (fields.confirmedEpoch !== undefined) columns.confirmed_epoch = fields.confirmedEpoch.toString();
    if (fields.finishedAt !== undefined) columns.finished_at = fields.finishedAt;
    const keys = Object.keys(columns);
    if (keys.length === 0) return;
    this.db
      .prepare(`UPDATE repairs SET ${keys.map((k) => `${k} = ?`).join(", ")} WHERE id = ?`)
      .run(...keys.map((k) => columns[k]), id);
  }

  /**
   * Takes `indices` out of queued job `id` (their loss turned out not to have happened); a job
   * left with no piece ends "done" with `reason` as its note.
   */
  removeIndices(id: number, indices: number[], reason: string): void {
    const job = this.get(id);
    if (!job) return;
    const left = job.indices.filter((i) => !indices.includes(i));
    this.db.transaction(() => {
      this.db.prepare("UPDATE repairs SET indices_json = ? WHERE id = ?").run(JSON.stringify(left), id);
      if (left.length === 0) this.update(id, { status: "done", error: reason, finishedAt: Date.now() });
    })();
  }

  /** Adds `bytes` to what job `id` downloaded (for the repair-bandwidth figures). */
  addBytes(id: number, bytes: number): void {
    this.db.prepare("UPDATE repairs SET bytes_downloaded = bytes_downloaded + ? WHERE id = ?").run(bytes, id);
  }

  /** Records how the job rebuilds its pieces (shown by `repair status`). */
  setMethod(id: number, method: string): void {
    this.db.prepare("UPDATE repairs SET method = ? WHERE id = ?").run(method, id);
  }

  /**
   * Rebuilt pieces go back to placement (mode "reassign") and the job waits for them, in one
   * transaction: a crash leaves either the job queued or the pieces pending, never neither.
   *
   * A loss found while the job was running is merged into it by {@link queue}, but the run
   * rebuilt only the indices it started with. The job is narrowed to exactly the indices rebuilt
   * here, and any others it gained meanwhile move to a new queued job, so a job never claims a
   * piece it did not rebuild and no reported loss is left without a job.
   *
   * @returns The id of the new job for the indices that were not rebuilt, if any.
   */
  handRebuiltToPlacement(id: number, dealId: bigint, rebuilt: Map<number, string>): number | undefined {
    return this.db.transaction(() => {
      const job = this.get(id);
      const left = (job?.indices ?? []).filter((i) => !rebuilt.has(i));
      let next: number | undefined;
      if (left.length > 0) {
        next = Number(
          this.db
            .prepare(
              "INSERT INTO repairs (deal_id, indices_json, status, fault_epoch, created_at) VALUES (?, ?, 'queued', ?, ?)",
            )
            .run(dealId.toString(), JSON.stringify(left), job?.faultEpoch?.toString() ?? null, Date.now())
            .lastInsertRowid,
        );
      }
      this.db
        .prepare("UPDATE repairs SET indices_json = ? WHERE id = ?")
        .run(JSON.stringify([...rebuilt.keys()].sort((a, b) => a - b)), id);
      for (const [index, path] of rebuilt) {
        const replaced = this.pieces.piece(dealId, index);
        if (replaced?.storageDealId !== undefined && replaced.proposal) {
          this.db
            .prepare(
              "INSERT OR IGNORE INTO retired_storage_deals (storage_deal_id, proposal_json, retired_at) VALUES (?, ?, ?)",
            )
            .run(replaced.storageDealId.toString(), stringifyJson(replaced.proposal.proposal), Date.now());
        }
        this.pieces.updatePiece(dealId, index, {
          state: "pending",
          mode: "reassign",
          localPath: path,
          provider: undefined,
          storageDealId: undefined,
          proposal: undefined,
          attempts: 0,
          nextAttemptAt: 0,
          error: undefined,
        });
      }
      this.update(id, { status: "rebuilt", error: undefined });
      return next;
    })();
  }
}
