import type { SqliteDatabase } from "../core/database";
import { stringifyJson } from "../core/json";
import { proposalFromJson, type StorageDealProposal } from "../chain/eip712";

/** How a tracked storage deal left the settlement queue. */
export type WorkerDealOutcome = "settled" | "closed" | "foreign";

/** A storage deal of the worker (its client) that the settler has not yet seen closed. */
export interface WorkerDealRow {
  storageDealId: bigint;
  proposal: StorageDealProposal;
  /** When the miner first recorded it, ms since the epoch. */
  foundAt: number;
  /** Failed settlement attempts so far. */
  attempts: number;
  /** Why the last attempt failed (tried again next round). */
  error?: string;
}

interface RawWorkerDeal {
  storage_deal_id: string;
  proposal_json: string;
  found_at: number;
  attempts: number;
  error: string | null;
}

/**
 * The settlement queue of the repair store (table `worker_storage_deals`, issue 17): every storage
 * deal whose client is the miner's worker, from the placer's pieces, the repairs' replaced deals
 * (`retired_storage_deals`) and the chain's `DealPublished` events naming the worker. A row stays
 * pending until the settler sees its deal closed on chain; nothing else deletes it.
 */
export class WorkerDeals {
  constructor(private readonly db: SqliteDatabase) {}

  /** Records a storage deal of the worker (no-op when it is known). @returns Whether it was new. */
  track(storageDealId: bigint, proposal: StorageDealProposal): boolean {
    return (
      this.db
        .prepare(
          "INSERT OR IGNORE INTO worker_storage_deals (storage_deal_id, proposal_json, found_at) VALUES (?, ?, ?)",
        )
        .run(storageDealId.toString(), stringifyJson(proposal), Date.now()).changes === 1
    );
  }

  /**
   * Copies in the storage deals the rest of the daemon knows of: every piece's published deal and
   * every deal a repair replaced. One statement each, so it is cheap to run every round. A piece's
   * proposal is its deal's current one (`StorageRenewal` replaces it when it extends the deal), so
   * it also overwrites what an earlier round or the chain scan recorded: settlement needs it.
   *
   * @returns How many were new.
   */
  syncFromPieces(): number {
    const now = Date.now();
    const pieces = this.db
      .prepare(
        `INSERT INTO worker_storage_deals (storage_deal_id, proposal_json, found_at)
         SELECT storage_deal_id, json_extract(proposal_json, '$.proposal'), ? FROM pieces
         WHERE storage_deal_id IS NOT NULL AND proposal_json IS NOT NULL
         ON CONFLICT (storage_deal_id) DO UPDATE SET proposal_json = excluded.proposal_json
         WHERE settled_at IS NULL AND proposal_json != excluded.proposal_json`,
      )
      .run(now).changes;
    const retired = this.db
      .prepare(
        `INSERT OR IGNORE INTO worker_storage_deals (storage_deal_id, proposal_json, found_at)
         SELECT storage_deal_id, proposal_json, ? FROM retired_storage_deals`,
      )
      .run(now).changes;
    return pieces + retired;
  }

  /** Deals not yet seen closed, oldest first. */
  pending(): WorkerDealRow[] {
    const rows = this.db
      .prepare(
        `SELECT storage_deal_id, proposal_json, found_at, attempts, error FROM worker_storage_deals
         WHERE settled_at IS NULL ORDER BY CAST(storage_deal_id AS INTEGER)`,
      )
      .all() as RawWorkerDeal[];
    return rows.map((r) => ({
      storageDealId: BigInt(r.storage_deal_id),
      proposal: proposalFromJson(JSON.parse(r.proposal_json) as Record<string, string>),
      foundAt: r.found_at,
      attempts: r.attempts,
      error: r.error ?? undefined,
    }));
  }

  /** Marks a deal done: closed by us, by anyone, or not the worker's at all. */
  markDone(storageDealId: bigint, outcome: WorkerDealOutcome): void {
    const id = storageDealId.toString();
    this.db.transaction(() => {
      this.db
        .prepare("UPDATE worker_storage_deals SET settled_at = ?, outcome = ?, error = NULL WHERE storage_deal_id = ?")
        .run(Date.now(), outcome, id);
      // Keep decision 30's table in step: a replaced deal closed is done there too.
      this.db
        .prepare(
          "UPDATE retired_storage_deals SET settled_at = ?, error = NULL WHERE storage_deal_id = ? AND settled_at IS NULL",
        )
        .run(Date.now(), id);
    })();
  }

  /** Records a failed settlement (tried again next round). */
  markError(storageDealId: bigint, error: string): void {
    this.db
      .prepare("UPDATE worker_storage_deals SET attempts = attempts + 1, error = ? WHERE storage_deal_id = ?")
      .run(error, storageDealId.toString());
  }

  /** Whether a repair replaced this deal (decision 30's `retired_storage_deals`). */
  isReplaced(storageDealId: bigint): boolean {
    return (
      this.db.prepare("SELECT 1 FROM retired_storage_deals WHERE storage_deal_id = ?").get(storageDealId.toString()) !==
      undefined
    );
  }

  /** How a deal left the queue, undefined while it is pending or unknown. */
  outcome(storageDealId: bigint): WorkerDealOutcome | undefined {
    const r = this.db
      .prepare("SELECT outcome FROM worker_storage_deals WHERE storage_deal_id = ?")
      .get(storageDealId.toString()) as { outcome: WorkerDealOutcome | null } | undefined;
    return r?.outcome ?? undefined;
  }
}
