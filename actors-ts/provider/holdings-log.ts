import type { SqliteDatabase } from "../core/database";
import type { HoldingsLog } from "../protocol/holdings";

/**
 * The provider's holdings log (seed 002's epoch slots, "cache → stash"): SQLite triggers append
 * every change to the set of good pieces to `holdings_log` (the cache of recent changes), and the
 * `pieces` table itself is the stash a full snapshot is read from. {@link compact} drops all but
 * the newest changes, so the log stays bounded; a reader whose `since` is older than what is
 * kept gets a snapshot instead of changes. Sequence numbers never repeat (AUTOINCREMENT), so a
 * reader's `since` stays meaningful across compactions.
 */
export class ProviderHoldingsLog implements HoldingsLog {
  constructor(private readonly db: SqliteDatabase) {}

  /** PieceCIDs of every piece held in good state, and the log's head sequence. */
  holdingsSnapshot(): { seq: number; pieceCids: string[] } {
    return this.db.transaction(() => {
      const pieceCids = (
        this.db.prepare("SELECT piece_cid_v2 FROM pieces WHERE status = 'ok' ORDER BY root").all() as {
          piece_cid_v2: string;
        }[]
      ).map((r) => r.piece_cid_v2);
      return { seq: this.head(), pieceCids };
    })();
  }

  /** Changes after sequence `since`, oldest first, or undefined when the log no longer reaches back. */
  holdingsChanges(since: number): { seq: number; added: string[]; removed: string[] } | undefined {
    if (since < this.reachesBackTo()) return undefined;
    const rows = this.db
      .prepare("SELECT seq, piece_cid_v2, change FROM holdings_log WHERE seq > ? ORDER BY seq")
      .all(since) as { seq: number; piece_cid_v2: string; change: "add" | "remove" }[];
    // The last change of each piece wins.
    const last = new Map<string, "add" | "remove">();
    for (const r of rows) last.set(r.piece_cid_v2, r.change);
    return {
      seq: rows.length > 0 ? rows[rows.length - 1].seq : Math.max(since, this.head()),
      added: [...last].filter(([, c]) => c === "add").map(([cid]) => cid),
      removed: [...last].filter(([, c]) => c === "remove").map(([cid]) => cid),
    };
  }

  /**
   * Keeps only the newest `keep` changes (older ones are already in the snapshot).
   *
   * @param keep Changes to keep, ≥ 1.
   * @returns How many changes were dropped.
   */
  compact(keep: number): number {
    const cut = this.head() - Math.max(1, Math.floor(keep));
    if (cut <= 0) return 0;
    return this.db.prepare("DELETE FROM holdings_log WHERE seq <= ?").run(cut).changes;
  }

  /** Changes kept now. */
  size(): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM holdings_log").get() as { n: number }).n;
  }

  /** The oldest `since` changes can still be given for: one before the oldest kept change. */
  private reachesBackTo(): number {
    const oldest = (this.db.prepare("SELECT MIN(seq) AS seq FROM holdings_log").get() as { seq: number | null }).seq;
    // An empty log (nothing ever changed, or everything compacted): only the head is reachable.
    return oldest === null ? this.head() : oldest - 1;
  }

  private head(): number {
    // The AUTOINCREMENT counter, not MAX(seq): it survives the rows a compaction removes.
    const row = this.db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'holdings_log'").get() as
      { seq: number } | undefined;
    return row?.seq ?? 0;
  }
}
