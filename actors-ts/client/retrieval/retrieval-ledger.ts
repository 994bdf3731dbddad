import type { Address, Hex } from "viem";
import type { SqliteDatabase } from "../../core/database";

/**
 * The client's record of retrievals (seed 001: "on the client side they can be tracked as a
 * whole"): each retrieval with its event list, each piece fetch with its lane and the bytes
 * verified so far, and every channel and lane voucher sent — persisted before anything goes out,
 * so a restart resumes from the last verified chunk and never signs a nonce twice.
 */

export type RetrievalStatus = "running" | "completed" | "failed";
export type FetchStatus = "running" | "verified" | "failed";

export interface PieceFetchRow {
  retrievalId: string;
  pieceIndex: number;
  provider: Address;
  pieceCid: string;
  providerRetrievalId?: string;
  channelId?: bigint;
  lane?: bigint;
  startOffset: number;
  endOffset: number;
  pricePerByte: bigint;
  verifiedBytes: number;
  status: FetchStatus;
  error?: string;
  tempPath: string;
}

export interface RetrievalRecord {
  id: string;
  /** "range": bytes of a file; its fetches are recorded under `<id>@<first payload byte>` (see {@link rangeFetches}). */
  kind: "piece" | "file" | "range";
  target: string;
  outPath: string;
  status: RetrievalStatus;
  events: string[];
  error?: string;
}

interface RawFetch {
  retrieval_id: string;
  piece_index: number;
  provider: string;
  piece_cid: string;
  provider_retrieval_id: string | null;
  channel_id: string | null;
  lane: string | null;
  start_offset: number;
  end_offset: number;
  price_per_byte: string;
  verified_bytes: number;
  status: FetchStatus;
  error: string | null;
  temp_path: string;
}

function toFetch(r: RawFetch): PieceFetchRow {
  return {
    retrievalId: r.retrieval_id,
    pieceIndex: r.piece_index,
    provider: r.provider as Address,
    pieceCid: r.piece_cid,
    providerRetrievalId: r.provider_retrieval_id ?? undefined,
    channelId: r.channel_id ? BigInt(r.channel_id) : undefined,
    lane: r.lane ? BigInt(r.lane) : undefined,
    startOffset: r.start_offset,
    endOffset: r.end_offset,
    pricePerByte: BigInt(r.price_per_byte),
    verifiedBytes: r.verified_bytes,
    status: r.status,
    error: r.error ?? undefined,
    tempPath: r.temp_path,
  };
}

export class RetrievalLedger {
  constructor(private readonly db: SqliteDatabase) {}

  /** The unfinished retrieval of `target` into `outPath`, to resume, if any. */
  findResumable(kind: RetrievalRecord["kind"], target: string, outPath: string): RetrievalRecord | undefined {
    const r = this.db
      .prepare("SELECT * FROM retrievals WHERE kind = ? AND target = ? AND out_path = ? AND status = 'running'")
      .get(kind, target.toLowerCase(), outPath) as
      | {
          id: string;
          kind: RetrievalRecord["kind"];
          target: string;
          out_path: string;
          status: RetrievalStatus;
          events: string;
          error: string | null;
        }
      | undefined;
    return r
      ? {
          id: r.id,
          kind: r.kind,
          target: r.target,
          outPath: r.out_path,
          status: r.status,
          events: JSON.parse(r.events),
          error: r.error ?? undefined,
        }
      : undefined;
  }

  get(id: string): RetrievalRecord | undefined {
    const r = this.db.prepare("SELECT * FROM retrievals WHERE id = ?").get(id) as
      | {
          id: string;
          kind: RetrievalRecord["kind"];
          target: string;
          out_path: string;
          status: RetrievalStatus;
          events: string;
          error: string | null;
        }
      | undefined;
    return r
      ? {
          id: r.id,
          kind: r.kind,
          target: r.target,
          outPath: r.out_path,
          status: r.status,
          events: JSON.parse(r.events),
          error: r.error ?? undefined,
        }
      : undefined;
  }

  create(record: Omit<RetrievalRecord, "status" | "events">): void {
    const now = Date.now();
    this.db
      .prepare(
        "INSERT INTO retrievals (id, kind, target, out_path, status, created_at, updated_at) VALUES (?, ?, ?, ?, 'running', ?, ?)",
      )
      .run(record.id, record.kind, record.target.toLowerCase(), record.outPath, now, now);
  }

  appendEvent(id: string, event: string): void {
    const row = this.db.prepare("SELECT events FROM retrievals WHERE id = ?").get(id) as { events: string } | undefined;
    const events = row ? (JSON.parse(row.events) as string[]) : [];
    events.push(event);
    this.db
      .prepare("UPDATE retrievals SET events = ?, updated_at = ? WHERE id = ?")
      .run(JSON.stringify(events), Date.now(), id);
  }

  finish(id: string, status: Exclude<RetrievalStatus, "running">, error?: string): void {
    this.db
      .prepare("UPDATE retrievals SET status = ?, error = ?, updated_at = ? WHERE id = ?")
      .run(status, error ?? null, Date.now(), id);
  }

  fetches(retrievalId: string): PieceFetchRow[] {
    return (this.db.prepare("SELECT * FROM piece_fetches WHERE retrieval_id = ?").all(retrievalId) as RawFetch[]).map(
      toFetch,
    );
  }

  /**
   * The fetches of range retrieval `retrievalId`: a range may fetch several spans of one piece
   * from one provider, so each span's fetch is recorded under `<retrievalId>@<span start>`.
   */
  rangeFetches(retrievalId: string): PieceFetchRow[] {
    return (
      this.db
        .prepare("SELECT * FROM piece_fetches WHERE retrieval_id LIKE ? ORDER BY start_offset, piece_index")
        .all(`${retrievalId}@%`) as RawFetch[]
    ).map(toFetch);
  }

  fetch(retrievalId: string, pieceIndex: number, provider: Address): PieceFetchRow | undefined {
    const r = this.db
      .prepare("SELECT * FROM piece_fetches WHERE retrieval_id = ? AND piece_index = ? AND provider = ?")
      .get(retrievalId, pieceIndex, provider) as RawFetch | undefined;
    return r ? toFetch(r) : undefined;
  }

  upsertFetch(row: PieceFetchRow): void {
    this.db
      .prepare(
        `INSERT INTO piece_fetches (retrieval_id, piece_index, provider, piece_cid, provider_retrieval_id, channel_id, lane,
           start_offset, end_offset, price_per_byte, verified_bytes, status, error, temp_path)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(retrieval_id, piece_index, provider) DO UPDATE SET
           provider_retrieval_id = excluded.provider_retrieval_id, channel_id = excluded.channel_id, lane = excluded.lane,
           start_offset = excluded.start_offset, end_offset = excluded.end_offset, price_per_byte = excluded.price_per_byte,
           verified_bytes = excluded.verified_bytes, status = excluded.status, error = excluded.error`,
      )
      .run(
        row.retrievalId,
        row.pieceIndex,
        row.provider,
        row.pieceCid,
        row.providerRetrievalId ?? null,
        row.channelId?.toString() ?? null,
        row.lane?.toString() ?? null,
        row.startOffset,
        row.endOffset,
        row.pricePerByte.toString(),
        row.verifiedBytes,
        row.status,
        row.error ?? null,
        row.tempPath,
      );
  }

  // ------------------------------------------------------------------ channels and lanes

  channelsTo(provider: Address): bigint[] {
    return (
      this.db
        .prepare("SELECT channel_id FROM channels WHERE provider = ? ORDER BY created_at")
        .all(provider.toLowerCase()) as {
        channel_id: string;
      }[]
    ).map((r) => BigInt(r.channel_id));
  }

  addChannel(channelId: bigint, provider: Address): void {
    this.db
      .prepare("INSERT OR IGNORE INTO channels (channel_id, provider, created_at) VALUES (?, ?, ?)")
      .run(channelId.toString(), provider.toLowerCase(), Date.now());
  }

  /** Σ of the amounts promised on a channel's lanes. */
  promised(channelId: bigint): bigint {
    const rows = this.db.prepare("SELECT amount FROM lanes WHERE channel_id = ?").all(channelId.toString()) as {
      amount: string;
    }[];
    return rows.reduce((s, r) => s + BigInt(r.amount), 0n);
  }

  lane(channelId: bigint, lane: bigint): { nonce: bigint; amount: bigint } {
    const r = this.db
      .prepare("SELECT nonce, amount FROM lanes WHERE channel_id = ? AND lane = ?")
      .get(channelId.toString(), lane.toString()) as { nonce: string; amount: string } | undefined;
    return r ? { nonce: BigInt(r.nonce), amount: BigInt(r.amount) } : { nonce: 0n, amount: 0n };
  }

  /** Records a voucher before it is sent: its nonce is never reused, its amount never exceeded. */
  recordVoucher(channelId: bigint, lane: bigint, nonce: bigint, amount: bigint): void {
    this.db
      .prepare(
        `INSERT INTO lanes (channel_id, lane, nonce, amount) VALUES (?, ?, ?, ?)
         ON CONFLICT(channel_id, lane) DO UPDATE SET nonce = excluded.nonce, amount = excluded.amount`,
      )
      .run(channelId.toString(), lane.toString(), nonce.toString(), amount.toString());
  }

  /** Σ paid on the lanes of a retrieval's fetches. */
  paidFor(retrievalId: string): bigint {
    return this.paidOn(this.fetches(retrievalId));
  }

  /** Σ paid on the lanes of a range retrieval's fetches (see {@link rangeFetches}). */
  paidForRange(retrievalId: string): bigint {
    return this.paidOn(this.rangeFetches(retrievalId));
  }

  /** Σ of the vouchers signed on these fetches' lanes, token base units. */
  paidOn(fetches: PieceFetchRow[]): bigint {
    return fetches.reduce(
      (sum, f) =>
        sum + (f.channelId !== undefined && f.lane !== undefined ? this.lane(f.channelId, f.lane).amount : 0n),
      0n,
    );
  }
}

export type { Hex };
