import { openDatabase, type SqliteDatabase } from "../core/database";
import type { ProvingEvent } from "../chain/storage-market/proving-events";
import type { DealbotRecord } from "./record";
import type { Counts, ProviderCounts } from "./reputation";

const MIGRATIONS = [
  `CREATE TABLE records (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     kind TEXT NOT NULL,
     provider TEXT NOT NULL,
     status TEXT NOT NULL,
     failed_at TEXT,
     started_ms INTEGER NOT NULL,
     ttfb_ms INTEGER,
     ttlb_ms INTEGER,
     confirm_ms INTEGER,
     json TEXT NOT NULL
   );
   CREATE INDEX records_provider ON records(provider, started_ms);
   CREATE INDEX records_started ON records(started_ms);
   -- What the controller stored, so that it can retrieve it later (seed 004: store, then retrieve).
   CREATE TABLE stored (
     piece_cid TEXT NOT NULL,
     provider TEXT NOT NULL,
     sha256 TEXT NOT NULL,
     size INTEGER NOT NULL,
     stored_ms INTEGER NOT NULL,
     retrievals INTEGER NOT NULL DEFAULT 0,
     PRIMARY KEY (piece_cid, provider)
   );`,
  // Windowed reputation (decisions 33): the window query reads this index only.
  `CREATE INDEX records_window ON records(started_ms, provider, kind, status);
   -- StorageMarket's PossessionProven / FaultRecorded, one row per event.
   CREATE TABLE proving_events (
     market TEXT NOT NULL,
     tx_hash TEXT NOT NULL,
     log_index INTEGER NOT NULL,
     kind TEXT NOT NULL CHECK (kind IN ('proven', 'fault')),
     provider TEXT NOT NULL,
     data_set_id TEXT NOT NULL,
     period INTEGER NOT NULL,
     block_number INTEGER NOT NULL,
     block_ms INTEGER NOT NULL,
     PRIMARY KEY (tx_hash, log_index)
   );
   CREATE INDEX proving_window ON proving_events(market, block_ms, provider, kind);
   -- Next block to read, per StorageMarket address.
   CREATE TABLE proving_cursor (market TEXT PRIMARY KEY, next_block INTEGER NOT NULL);`,
  // The chain guard's records: the deployment's anchor and the chain checkpoint.
  `CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
];

/** A time bucket of one provider's attempts (dashboard: success rate over time). */
export interface RateBucket {
  provider: string;
  /** Bucket start, ms since the epoch. */
  bucketMs: number;
  attempts: number;
  successes: number;
}

/** The dealbot controller's SQLite database: every record, and what it stored for later retrieval. */
export class ControllerStore {
  readonly db: SqliteDatabase;

  constructor(path: string) {
    this.db = openDatabase(path, MIGRATIONS);
  }

  close(): void {
    this.db.close();
  }

  /** A value of the `kv` table (the chain guard's records). */
  get(key: string): string | undefined {
    return (this.db.prepare("SELECT value FROM kv WHERE key = ?").get(key) as { value: string } | undefined)?.value;
  }

  set(key: string, value: string): void {
    this.db.prepare("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)").run(key, value);
  }

  /** Keeps a record; a successful storage attempt also becomes a retrieval target. */
  add(record: DealbotRecord): number {
    const p = record.dealParameters;
    const started = Date.parse(record.datetime);
    const id = this.db
      .prepare(
        `INSERT INTO records (kind, provider, status, failed_at, started_ms, ttfb_ms, ttlb_ms, confirm_ms, json)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        record.kind,
        p.provider.toLowerCase(),
        record.status,
        record.failedAt ?? null,
        started,
        record.timings.timeToFirstByteMs ?? null,
        record.timings.timeToLastByteMs ?? null,
        record.timings.onChainConfirmationMs ?? null,
        JSON.stringify(record),
      ).lastInsertRowid as number;
    if (record.kind === "storage" && record.status === "success" && p.pieceCid && p.sha256) {
      this.db
        .prepare(`INSERT OR IGNORE INTO stored (piece_cid, provider, sha256, size, stored_ms) VALUES (?, ?, ?, ?, ?)`)
        .run(p.pieceCid, p.provider.toLowerCase(), p.sha256, p.sizeInBytes ?? 0, started);
    }
    return id;
  }

  /** The newest records, newest first. */
  recent(limit: number, provider?: string): DealbotRecord[] {
    const rows = (
      provider
        ? this.db
            .prepare(`SELECT json FROM records WHERE provider = ? ORDER BY id DESC LIMIT ?`)
            .all(provider.toLowerCase(), limit)
        : this.db.prepare(`SELECT json FROM records ORDER BY id DESC LIMIT ?`).all(limit)
    ) as { json: string }[];
    return rows.map((r) => JSON.parse(r.json) as DealbotRecord);
  }

  /**
   * What each provider did after `sinceMs` (exclusive, ms since the epoch): storage and retrieval
   * attempts by the records' start time, and, for StorageMarket `market`, periods proven and
   * faults recorded by block time. Only providers the bots tried in the window are listed: the
   * chain's record is one of their components, not a way into the ranking (a provider the bots
   * never reached has not been measured).
   */
  windowCounts(sinceMs: number, market?: string): ProviderCounts[] {
    const byProvider = new Map<string, ProviderCounts>();
    const entry = (provider: string): ProviderCounts => {
      let e = byProvider.get(provider);
      if (!e) byProvider.set(provider, (e = { provider }));
      return e;
    };
    const records = this.db
      .prepare(
        `SELECT provider, kind, COUNT(*) AS attempts, SUM(status = 'success') AS successes FROM records
         WHERE started_ms > ? GROUP BY provider, kind`,
      )
      .all(sinceMs) as ({ provider: string; kind: "storage" | "retrieval" } & Counts)[];
    for (const r of records) entry(r.provider)[r.kind] = { attempts: r.attempts, successes: r.successes };
    if (market !== undefined) {
      const proving = this.db
        .prepare(
          `SELECT provider, COUNT(*) AS attempts, SUM(kind = 'proven') AS successes FROM proving_events
           WHERE market = ? AND block_ms > ? GROUP BY provider`,
        )
        .all(market.toLowerCase(), sinceMs) as ({ provider: string } & Counts)[];
      for (const r of proving) {
        const e = byProvider.get(r.provider);
        if (e) e.proving = { attempts: r.attempts, successes: r.successes };
      }
    }
    return [...byProvider.values()];
  }

  /** The next block to read StorageMarket `market`'s proving events from, or undefined before the first read. */
  provingCursor(market: string): bigint | undefined {
    const row = this.db
      .prepare(`SELECT next_block AS next FROM proving_cursor WHERE market = ?`)
      .get(market.toLowerCase()) as { next: number } | undefined;
    return row ? BigInt(row.next) : undefined;
  }

  /**
   * Keeps one block range's proving events and moves the cursor to `nextBlock`, in one
   * transaction (an event seen twice is kept once).
   */
  addProvingEvents(market: string, events: ProvingEvent[], nextBlock: bigint): void {
    const m = market.toLowerCase();
    const insert = this.db.prepare(
      `INSERT OR IGNORE INTO proving_events (market, tx_hash, log_index, kind, provider, data_set_id, period, block_number, block_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.db.transaction(() => {
      for (const e of events)
        insert.run(
          m,
          e.txHash,
          e.logIndex,
          e.kind,
          e.provider.toLowerCase(),
          String(e.dataSetId),
          e.period,
          Number(e.blockNumber),
          e.blockTimeMs,
        );
      this.db
        .prepare(
          `INSERT INTO proving_cursor (market, next_block) VALUES (?, ?)
           ON CONFLICT (market) DO UPDATE SET next_block = excluded.next_block`,
        )
        .run(m, Number(nextBlock));
    })();
  }

  /** Forgets `market`'s proving events and cursor (the chain was reset under the controller). */
  resetProving(market: string): void {
    const m = market.toLowerCase();
    this.db.transaction(() => {
      this.db.prepare(`DELETE FROM proving_events WHERE market = ?`).run(m);
      this.db.prepare(`DELETE FROM proving_cursor WHERE market = ?`).run(m);
    })();
  }

  /**
   * The latest failed attempts, newest first (seed 004: the dashboard "continuously shows the most
   * recent deal failures"): when, what, which provider, the stage and the error message.
   */
  recentFailures(
    limit = 20,
  ): { datetime: string; kind: string; provider: string; failedAt: string; errorMessage: string }[] {
    const rows = this.db
      .prepare(`SELECT json FROM records WHERE status = 'failure' ORDER BY id DESC LIMIT ?`)
      .all(limit) as { json: string }[];
    return rows.map((r) => {
      const rec = JSON.parse(r.json) as DealbotRecord;
      return {
        datetime: rec.datetime,
        kind: rec.kind,
        provider: rec.dealParameters.provider,
        failedAt: rec.failedAt ?? "",
        errorMessage: (rec.errorMessage ?? "").split("\n")[0],
      };
    });
  }

  /** Failures by kind and stage. */
  failuresByStage(): { kind: string; stage: string; failures: number }[] {
    return this.db
      .prepare(
        `SELECT kind, failed_at AS stage, COUNT(*) AS failures FROM records
         WHERE status = 'failure' GROUP BY kind, failed_at ORDER BY failures DESC`,
      )
      .all() as { kind: string; stage: string; failures: number }[];
  }

  /** Success counts per provider in buckets of `bucketMs`, oldest first. */
  rateOverTime(bucketMs: number): RateBucket[] {
    return this.db
      .prepare(
        `SELECT provider, CAST(started_ms / ? AS INTEGER) * ? AS bucketMs, COUNT(*) AS attempts, SUM(status = 'success') AS successes
         FROM records GROUP BY provider, bucketMs ORDER BY bucketMs`,
      )
      .all(bucketMs, bucketMs) as RateBucket[];
  }

  /** Latencies of successful attempts, ms (for the distributions). */
  latencies(limit = 2000): { kind: string; provider: string; ttfbMs: number | null; ttlbMs: number | null }[] {
    return this.db
      .prepare(
        `SELECT kind, provider, ttfb_ms AS ttfbMs, ttlb_ms AS ttlbMs FROM records
         WHERE status = 'success' ORDER BY id DESC LIMIT ?`,
      )
      .all(limit) as { kind: string; provider: string; ttfbMs: number | null; ttlbMs: number | null }[];
  }

  /** A stored piece to retrieve again: the least retrieved one, oldest first. */
  nextRetrievalTarget(): { pieceCid: string; provider: string; sha256: string } | undefined {
    const row = this.db
      .prepare(`SELECT piece_cid AS pieceCid, provider, sha256 FROM stored ORDER BY retrievals, stored_ms LIMIT 1`)
      .get() as { pieceCid: string; provider: string; sha256: string } | undefined;
    if (row) {
      this.db
        .prepare(`UPDATE stored SET retrievals = retrievals + 1 WHERE piece_cid = ? AND provider = ?`)
        .run(row.pieceCid, row.provider);
    }
    return row;
  }
}
