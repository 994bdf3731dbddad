import type { CREDIT_REFUSALS } from "../../protocol/provider-api";

/**
 * How many bytes a retrieval request may be sent before they are paid for (decisions 37). The
 * unpaid allowance belongs to the client, not to a lane: across every lane of every channel a
 * client holds with this provider, the bytes sent beyond what each lane's best voucher pays for
 * never add up to more than `maxUnpaidBytes`, and on each channel their value never exceeds the
 * funds its vouchers leave free, so the voucher that pays for them cannot be refused. A lane's
 * surplus (a voucher paying ahead) is that lane's, never another's room. Pure functions; the
 * store runs them inside the transaction that records what they grant.
 */

/** Why a request gets no bytes: the client's allowance is used, or the channel cannot cover more. */
export type UnpaidRefusal = (typeof CREDIT_REFUSALS)[number];

/** One lane's position, in bytes from its retrieval's first byte. */
export interface LaneBalance {
  /** End of the furthest interval sent (0 before the first). */
  sentBytes: number;
  /** Bytes the lane's best voucher pays for (see {@link paidBytes}). */
  paidBytes: number;
}

/** A data request and what the rest of the client's lanes and channel leave for it. */
export interface GrantRequest {
  /** Offset asked for, bytes from the retrieval's first byte. */
  fromBytes: number;
  /** Bytes the provider would send: the current interval, cut at the range's end (> 0). */
  wantedBytes: number;
  lane: LaneBalance;
  /** Unpaid bytes on the client's other lanes, all its channels to this provider. */
  otherUnpaidBytes: number;
  /** The provider's allowance per client, bytes. */
  maxUnpaidBytes: number;
  /**
   * Unpaid bytes of this lane the channel's free funds can cover at the lane's price (see
   * {@link fundedBytes}); 0 when the channel is settling or collected.
   */
  fundedBytes: number;
}

/** What {@link grantBytes} decides. */
export type Grant =
  | {
      granted: true;
      /** Bytes to send from `fromBytes`. */
      bytes: number;
      /** The lane's new `sentBytes`. */
      sentBytes: number;
      /** The lane's unpaid bytes once they are sent. */
      unpaidBytes: number;
    }
  | { granted: false; reason: UnpaidRefusal };

/**
 * Bytes a voucher amount pays for on a lane: ⌊amount / pricePerByte⌋, at most the range (a free
 * lane is always paid).
 *
 * @param amount Token base units (the voucher's cumulative amount).
 * @param pricePerByte Token base units per byte.
 * @param rangeBytes Bytes in the retrieval's range.
 */
export function paidBytes(amount: bigint, pricePerByte: bigint, rangeBytes: number): number {
  if (pricePerByte === 0n) return rangeBytes;
  const paid = amount / pricePerByte;
  return paid >= BigInt(rangeBytes) ? rangeBytes : Number(paid);
}

/** Bytes sent on a lane beyond what it has paid for (never negative: paying ahead is not credit). */
export function unpaidBytes(lane: LaneBalance): number {
  return Math.max(0, lane.sentBytes - lane.paidBytes);
}

/**
 * Unpaid bytes the channel's free funds still cover at `pricePerByte`.
 *
 * @param freeFunds Token base units: the channel's funds less its lanes' best vouchers and the
 *   value of the other lanes' unpaid bytes (may be negative).
 * @returns Bytes, capped at `Number.MAX_SAFE_INTEGER` (a free lane: no bound).
 */
export function fundedBytes(freeFunds: bigint, pricePerByte: bigint): number {
  if (pricePerByte === 0n) return Number.MAX_SAFE_INTEGER;
  if (freeFunds <= 0n) return 0;
  const bytes = freeFunds / pricePerByte;
  return bytes > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(bytes);
}

/**
 * The bytes a request is sent: its interval, cut where the lane would go beyond what it paid
 * plus the room the client's other lanes and the channel's funds leave. Bytes the lane was
 * already sent may always be sent again (the client has had them). A request that would get no
 * byte is refused, naming the bound that stopped it.
 *
 * @example
 * // A fresh lane of a client that owes nothing, 1 MiB allowed: its first interval, unpaid.
 * grantBytes({ fromBytes: 0, wantedBytes: 1 << 20, lane: { sentBytes: 0, paidBytes: 0 },
 *   otherUnpaidBytes: 0, maxUnpaidBytes: 1 << 20, fundedBytes: 1 << 30 });
 * // → { granted: true, bytes: 1048576, sentBytes: 1048576, unpaidBytes: 1048576 }
 */
export function grantBytes(r: GrantRequest): Grant {
  const byLimit = Math.max(0, r.maxUnpaidBytes - r.otherUnpaidBytes);
  const byFunds = Math.max(0, r.fundedBytes);
  const reach = Math.max(r.lane.paidBytes + Math.min(byLimit, byFunds), r.lane.sentBytes);
  const bytes = Math.min(r.wantedBytes, reach - r.fromBytes);
  if (bytes <= 0) return { granted: false, reason: byFunds < byLimit ? "UnpaidExceedsFunds" : "UnpaidLimitReached" };
  const sentBytes = Math.max(r.lane.sentBytes, r.fromBytes + bytes);
  return { granted: true, bytes, sentBytes, unpaidBytes: unpaidBytes({ sentBytes, paidBytes: r.lane.paidBytes }) };
}
