import type { Address, Hex } from "viem";
import type { SqliteDatabase } from "../../core/database";
import type { Voucher } from "../../chain/eip712";
import type { SignedVoucher } from "../../chain/payment-channels/vouchers";

/** A retrieval deal at the provider (seed 001's RetrievalDeal, one lane of a channel). */
export interface RetrievalRow {
  id: string;
  client: Address;
  root: Hex;
  pieceCid: string;
  /** First byte of the range, inclusive. */
  startOffset: number;
  /** Last byte of the range + 1. */
  endOffset: number;
  channelId: bigint;
  lane: bigint;
  /** Token base units per byte. */
  pricePerByte: bigint;
  intervalBytes: number;
  intervalIncrease: number;
  maxUnpaid: number;
  intervalsServed: number;
  bytesSent: number;
}

/** The best voucher held for a lane, and how much of it is redeemed on chain. */
export interface LaneVoucher extends SignedVoucher {
  redeemed: bigint;
}

interface RawRetrieval {
  id: string;
  client: string;
  root: string;
  piece_cid: string;
  start_offset: number;
  end_offset: number;
  channel_id: string;
  lane: number;
  price_per_byte: string;
  interval_bytes: number;
  interval_increase: number;
  max_unpaid: number;
  intervals_served: number;
  bytes_sent: number;
}

function toRow(r: RawRetrieval): RetrievalRow {
  return {
    id: r.id,
    client: r.client as Address,
    root: r.root as Hex,
    pieceCid: r.piece_cid,
    startOffset: r.start_offset,
    endOffset: r.end_offset,
    channelId: BigInt(r.channel_id),
    lane: BigInt(r.lane),
    pricePerByte: BigInt(r.price_per_byte),
    intervalBytes: r.interval_bytes,
    intervalIncrease: r.interval_increase,
    maxUnpaid: r.max_unpaid,
    intervalsServed: r.intervals_served,
    bytesSent: r.bytes_sent,
  };
}

function parseVoucher(json: string): Voucher {
  const v = JSON.parse(json) as Record<string, string>;
  return {
    channelId: BigInt(v.channelId),
    lane: BigInt(v.lane),
    nonce: BigInt(v.nonce),
    amount: BigInt(v.amount),
    timeLockMin: BigInt(v.timeLockMin),
    timeLockMax: BigInt(v.timeLockMax),
    secretHash: v.secretHash as Hex,
    minSettleEpoch: BigInt(v.minSettleEpoch),
  };
}

/** Retrieval deals, best vouchers per lane and known channels, in the provider's database. */
export class RetrievalStore {
  constructor(private readonly db: SqliteDatabase) {}

  /** Creates a retrieval on the channel's next free lane, atomically. */
  create(row: Omit<RetrievalRow, "lane" | "intervalsServed" | "bytesSent">, payer: Address): RetrievalRow {
    return this.db.transaction(() => {
      const { next } = this.db
        .prepare("SELECT COALESCE(MAX(lane) + 1, 0) AS next FROM retrievals WHERE channel_id = ?")
        .get(row.channelId.toString()) as { next: number };
      this.db
        .prepare(
          `INSERT INTO retrievals (id, client, root, piece_cid, start_offset, end_offset, channel_id, lane,
             price_per_byte, interval_bytes, interval_increase, max_unpaid, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          row.id,
          row.client,
          row.root,
          row.pieceCid,
          row.startOffset,
          row.endOffset,
          row.channelId.toString(),
          next,
          row.pricePerByte.toString(),
          row.intervalBytes,
          row.intervalIncrease,
          row.maxUnpaid,
          Date.now(),
        );
      this.db
        .prepare("INSERT OR IGNORE INTO channels (channel_id, payer) VALUES (?, ?)")
        .run(row.channelId.toString(), payer);
      return { ...row, lane: BigInt(next), intervalsServed: 0, bytesSent: 0 };
    })();
  }

  get(id: string): RetrievalRow | undefined {
    const r = this.db.prepare("SELECT * FROM retrievals WHERE id = ?").get(id) as RawRetrieval | undefined;
    return r ? toRow(r) : undefined;
  }

  recordServed(id: string, endOfInterval: number): void {
    this.db
      .prepare(
        "UPDATE retrievals SET intervals_served = intervals_served + 1, bytes_sent = MAX(bytes_sent, ?) WHERE id = ?",
      )
      .run(endOfInterval, id);
  }

  bestVoucher(channelId: bigint, lane: bigint): LaneVoucher | undefined {
    const r = this.db
      .prepare("SELECT * FROM vouchers WHERE channel_id = ? AND lane = ?")
      .get(channelId.toString(), Number(lane)) as
      { voucher_json: string; signature: string; redeemed_amount: string } | undefined;
    return r
      ? { voucher: parseVoucher(r.voucher_json), signature: r.signature as Hex, redeemed: BigInt(r.redeemed_amount) }
      : undefined;
  }

  /** Σ of the best voucher amounts on the channel's other lanes. */
  otherLanesOwed(channelId: bigint, lane: bigint): bigint {
    const rows = this.db
      .prepare("SELECT amount FROM vouchers WHERE channel_id = ? AND lane != ?")
      .all(channelId.toString(), Number(lane)) as { amount: string }[];
    return rows.reduce((sum, r) => sum + BigInt(r.amount), 0n);
  }

  saveVoucher(signed: SignedVoucher): void {
    const v = signed.voucher;
    this.db
      .prepare(
        `INSERT INTO vouchers (channel_id, lane, nonce, amount, voucher_json, signature) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT(channel_id, lane) DO UPDATE SET nonce = excluded.nonce, amount = excluded.amount,
           voucher_json = excluded.voucher_json, signature = excluded.signature`,
      )
      .run(
        v.channelId.toString(),
        Number(v.lane),
        v.nonce.toString(),
        v.amount.toString(),
        JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x)),
        signed.signature,
      );
  }

  /** Lanes whose best voucher is worth more than what is redeemed on chain. */
  unredeemed(): LaneVoucher[] {
    const rows = this.db
      .prepare(
        `SELECT v.voucher_json, v.signature, v.redeemed_amount FROM vouchers v JOIN channels c ON c.channel_id = v.channel_id
         WHERE c.collected = 0`,
      )
      .all() as { voucher_json: string; signature: string; redeemed_amount: string }[];
    return rows
      .map((r) => ({
        voucher: parseVoucher(r.voucher_json),
        signature: r.signature as Hex,
        redeemed: BigInt(r.redeemed_amount),
      }))
      .filter((l) => l.voucher.amount > l.redeemed);
  }

  markRedeemed(channelId: bigint, lane: bigint, amount: bigint): void {
    this.db
      .prepare("UPDATE vouchers SET redeemed_amount = ? WHERE channel_id = ? AND lane = ?")
      .run(amount.toString(), channelId.toString(), Number(lane));
  }

  openChannels(): { channelId: bigint; payer: Address }[] {
    return (
      this.db.prepare("SELECT channel_id, payer FROM channels WHERE collected = 0").all() as {
        channel_id: string;
        payer: string;
      }[]
    ).map((r) => ({ channelId: BigInt(r.channel_id), payer: r.payer as Address }));
  }

  markCollected(channelId: bigint): void {
    this.db.prepare("UPDATE channels SET collected = 1 WHERE channel_id = ?").run(channelId.toString());
  }
}
