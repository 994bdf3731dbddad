import type { Address, Hex } from "viem";
import type { SqliteDatabase } from "../../core/database";
import type { Voucher } from "../../chain/eip712";
import type { SignedVoucher } from "../../chain/payment-channels/vouchers";
import { InvalidStateError } from "../../core/errors";
import type { SubChunkPlan } from "../../piece/subchunk-proof";
import { paidBytes, unpaidBytes, type Grant, type LaneBalance } from "./unpaid-allowance";

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
  /** End of the furthest interval sent (an offset into the piece; 0 before the first). */
  bytesSent: number;
  /** Bytes sent beyond what the lane's best voucher pays for (decisions 37). */
  unpaidBytes: number;
  /**
   * A sub-chunk plan's retrieval: the offsets above are into the plan's stream of records
   * (piece/subchunk-proof.ts), not into the piece.
   */
  plan?: SubChunkPlan;
}

/** What a data request's grant is decided on, read inside the transaction that records it. */
export interface AllowanceState {
  /** The retrieval as it stands; its `intervalsServed` numbers this request's interval. */
  row: RetrievalRow;
  lane: LaneBalance;
  /** Unpaid bytes on the client's other lanes, all its channels to this provider. */
  otherUnpaidBytes: number;
  /** Σ of the best voucher amounts on the channel's lanes, token base units. */
  channelVouchers: bigint;
  /** Value of the unpaid bytes on the channel's other lanes, token base units. */
  otherUnpaidValue: bigint;
}

/** What a client owes this provider for bytes sent and not paid for, for a refusal. */
export interface ClientDebt {
  unpaidBytes: number;
  /** Token base units. */
  owed: bigint;
  /** The lanes owing most (at most the `limit` asked for). */
  lanes: { channelId: bigint; lane: bigint; unpaidBytes: number }[];
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
  unpaid_bytes: number;
  plan: string | null;
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
    unpaidBytes: r.unpaid_bytes,
    ...(r.plan ? { plan: JSON.parse(r.plan) as SubChunkPlan } : {}),
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
  create(
    row: Omit<RetrievalRow, "lane" | "intervalsServed" | "bytesSent" | "unpaidBytes">,
    payer: Address,
  ): RetrievalRow {
    return this.db.transaction(() => {
      const { next } = this.db
        .prepare("SELECT COALESCE(MAX(lane) + 1, 0) AS next FROM retrievals WHERE channel_id = ?")
        .get(row.channelId.toString()) as { next: number };
      this.db
        .prepare(
          `INSERT INTO retrievals (id, client, root, piece_cid, start_offset, end_offset, channel_id, lane,
             price_per_byte, interval_bytes, interval_increase, max_unpaid, created_at, plan)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
          row.plan ? JSON.stringify(row.plan) : null,
        );
      this.db
        .prepare("INSERT OR IGNORE INTO channels (channel_id, payer) VALUES (?, ?)")
        .run(row.channelId.toString(), payer);
      return { ...row, lane: BigInt(next), intervalsServed: 0, bytesSent: 0, unpaidBytes: 0 };
    })();
  }

  get(id: string): RetrievalRow | undefined {
    const r = this.db.prepare("SELECT * FROM retrievals WHERE id = ?").get(id) as RawRetrieval | undefined;
    return r ? toRow(r) : undefined;
  }

  /**
   * Decides and records one data request in a single IMMEDIATE transaction, so two requests on
   * one client's allowance never both spend it: reads the retrieval, its lane's balance, the
   * client's unpaid bytes elsewhere and the channel's vouchers and unpaid value, asks `decide`,
   * and when it grants, counts the interval and keeps the lane's new high-water mark and unpaid
   * bytes.
   *
   * @returns The grant and the retrieval as it was before it.
   * @throws InvalidStateError when there is no retrieval `id`; whatever `decide` throws.
   */
  grantInterval(id: string, decide: (state: AllowanceState) => Grant): { grant: Grant; row: RetrievalRow } {
    return this.db
      .transaction(() => {
        const row = this.get(id);
        if (!row) throw new InvalidStateError("no such retrieval", { details: { retrievalId: id } });
        const grant = decide(this.allowanceState(row));
        if (grant.granted) {
          this.db
            .prepare(
              "UPDATE retrievals SET intervals_served = intervals_served + 1, bytes_sent = ?, unpaid_bytes = ? WHERE id = ?",
            )
            .run(row.startOffset + grant.sentBytes, grant.unpaidBytes, id);
        }
        return { grant, row };
      })
      .immediate();
  }

  /**
   * Keeps `signed` as its lane's best voucher, in one IMMEDIATE transaction with `check`, which
   * sees the lane's best voucher so far and Σ of the channel's other lanes' best amounts and
   * throws to refuse. The lane's unpaid bytes follow the new amount.
   *
   * @throws Whatever `check` throws (nothing is saved then).
   */
  commitVoucher(signed: SignedVoucher, check: (best: LaneVoucher | undefined, otherLanesOwed: bigint) => void): void {
    const v = signed.voucher;
    this.db
      .transaction(() => {
        check(this.bestVoucher(v.channelId, v.lane), this.otherLanesOwed(v.channelId, v.lane));
        this.saveVoucher(signed);
        const r = this.db
          .prepare("SELECT * FROM retrievals WHERE channel_id = ? AND lane = ?")
          .get(v.channelId.toString(), Number(v.lane)) as RawRetrieval | undefined;
        if (!r) return;
        const row = toRow(r);
        this.db
          .prepare("UPDATE retrievals SET unpaid_bytes = ? WHERE id = ?")
          .run(unpaidBytes(this.laneBalance(row)), row.id);
      })
      .immediate();
  }

  /**
   * What `client` owes for bytes sent and not paid for, on all its channels to this provider.
   *
   * @param limit Most lanes listed (the biggest debts first).
   */
  debtOf(client: Address, limit = 5): ClientDebt {
    const key = client.toLowerCase();
    const byPrice = this.db
      .prepare(
        `SELECT price_per_byte AS price, SUM(unpaid_bytes) AS bytes FROM retrievals
         WHERE lower(client) = ? AND unpaid_bytes > 0 GROUP BY price_per_byte`,
      )
      .all(key) as { price: string; bytes: number }[];
    const lanes = this.db
      .prepare(
        `SELECT channel_id, lane, unpaid_bytes FROM retrievals WHERE lower(client) = ? AND unpaid_bytes > 0
         ORDER BY unpaid_bytes DESC, channel_id, lane LIMIT ?`,
      )
      .all(key, limit) as { channel_id: string; lane: number; unpaid_bytes: number }[];
    return {
      unpaidBytes: byPrice.reduce((sum, r) => sum + r.bytes, 0),
      owed: byPrice.reduce((sum, r) => sum + BigInt(r.price) * BigInt(r.bytes), 0n),
      lanes: lanes.map((r) => ({ channelId: BigInt(r.channel_id), lane: BigInt(r.lane), unpaidBytes: r.unpaid_bytes })),
    };
  }

  private allowanceState(row: RetrievalRow): AllowanceState {
    const { unpaid } = this.db
      .prepare(
        `SELECT COALESCE(SUM(unpaid_bytes), 0) AS unpaid FROM retrievals
         WHERE lower(client) = ? AND unpaid_bytes > 0 AND id != ?`,
      )
      .get(row.client.toLowerCase(), row.id) as { unpaid: number };
    const byPrice = this.db
      .prepare(
        `SELECT price_per_byte AS price, SUM(unpaid_bytes) AS bytes FROM retrievals
         WHERE channel_id = ? AND unpaid_bytes > 0 AND id != ? GROUP BY price_per_byte`,
      )
      .all(row.channelId.toString(), row.id) as { price: string; bytes: number }[];
    return {
      row,
      lane: this.laneBalance(row),
      otherUnpaidBytes: unpaid,
      channelVouchers: this.channelOwed(row.channelId),
      otherUnpaidValue: byPrice.reduce((sum, r) => sum + BigInt(r.price) * BigInt(r.bytes), 0n),
    };
  }

  private laneBalance(row: RetrievalRow): LaneBalance {
    const amount = this.bestVoucher(row.channelId, row.lane)?.voucher.amount ?? 0n;
    return {
      sentBytes: Math.max(0, row.bytesSent - row.startOffset),
      paidBytes: paidBytes(amount, row.pricePerByte, row.endOffset - row.startOffset),
    };
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

  /** Σ of the best voucher amounts on all the channel's lanes. */
  private channelOwed(channelId: bigint): bigint {
    const rows = this.db.prepare("SELECT amount FROM vouchers WHERE channel_id = ?").all(channelId.toString()) as {
      amount: string;
    }[];
    return rows.reduce((sum, r) => sum + BigInt(r.amount), 0n);
  }

  /** Σ of the best voucher amounts on the channel's other lanes. */
  otherLanesOwed(channelId: bigint, lane: bigint): bigint {
    const rows = this.db
      .prepare("SELECT amount FROM vouchers WHERE channel_id = ? AND lane != ?")
      .all(channelId.toString(), Number(lane)) as { amount: string }[];
    return rows.reduce((sum, r) => sum + BigInt(r.amount), 0n);
  }

  private saveVoucher(signed: SignedVoucher): void {
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
