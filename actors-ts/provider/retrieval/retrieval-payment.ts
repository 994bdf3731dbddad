import type { Address } from "viem";
import { HttpError } from "../../core/http-errors";
import { verifyVoucher, type SignedVoucher } from "../../chain/payment-channels/vouchers";
import { paymentIntervalBytes } from "../../protocol/provider-api";
import type { ProviderComponents, ProviderInit } from "../components";
import type { RetrievalRow, RetrievalStore } from "./retrieval-store";
import { fundedBytes, grantBytes, type UnpaidRefusal } from "./unpaid-allowance";

/** A payment channel's on-chain state, as far as retrieval payment reads it. */
export interface ChannelState {
  payer: Address;
  /** Token base units deposited. */
  funds: bigint;
  /** Epoch from which the channel may be collected; 0 while it is not settling. */
  settlingAt: bigint;
  collected: boolean;
}

/** What one data request is sent: `bytes` from its offset, as interval `interval` (0-based). */
export interface GrantedInterval {
  bytes: number;
  interval: number;
}

/** Size of interval `n` (0-based) of a retrieval, bytes (see {@link paymentIntervalBytes}). */
export function intervalBytes(
  row: Pick<RetrievalRow, "intervalBytes" | "intervalIncrease" | "maxUnpaid">,
  n: number,
): number {
  return paymentIntervalBytes(
    {
      paymentIntervalBytes: row.intervalBytes,
      paymentIntervalIncreaseBytes: row.intervalIncrease,
      maxUnpaidBytes: row.maxUnpaid,
    },
    n,
  );
}

/** The provider's unpaid allowance per client, bytes (default: one payment interval). */
export function maxUnpaidBytesOf(init: Pick<ProviderInit, "maxUnpaidBytes" | "retrievalAsk">): number {
  return init.maxUnpaidBytes ?? Number(init.retrievalAsk.paymentIntervalBytes);
}

/**
 * Checks a voucher for a retrieval and keeps it as the lane's best. The checks that need no
 * chain run first, then the payer's signature, then — in one transaction with the save — that
 * the voucher still beats the lane's best (a racing voucher may have landed meanwhile) and that
 * the channel's funds cover every lane's best voucher.
 *
 * @param channel The channel's on-chain state, read for this request.
 * @param required Cumulative amount the voucher must at least carry, token base units.
 * @throws HttpError 402 VoucherWrongChannel, VoucherWrongLane, VoucherUnsupported,
 *   VoucherNonceReplayed, VoucherAmountLowered, VoucherTooLow, VoucherBadSignature,
 *   ChannelUnderfunded.
 */
export async function acceptVoucher(
  c: Pick<ProviderComponents, "clients" | "contracts">,
  retrievals: RetrievalStore,
  row: RetrievalRow,
  channel: ChannelState,
  signed: SignedVoucher,
  required: bigint,
): Promise<void> {
  const v = signed.voucher;
  const refuse = (code: string, message: string, details: Record<string, string> = {}) =>
    new HttpError(402, code, message, { retrievalId: row.id, ...details });
  if (v.channelId !== row.channelId) {
    throw refuse("VoucherWrongChannel", "voucher is for another channel", { channelId: v.channelId.toString() });
  }
  if (v.lane !== row.lane) throw refuse("VoucherWrongLane", "voucher is for another lane", { lane: v.lane.toString() });
  if (v.timeLockMin !== 0n || v.timeLockMax !== 0n || BigInt(v.secretHash) !== 0n || v.minSettleEpoch !== 0n) {
    throw refuse("VoucherUnsupported", "retrieval vouchers carry no time lock, secret or settle bound");
  }
  const beatsBest = (best: { voucher: SignedVoucher["voucher"] } | undefined): void => {
    if (best && v.nonce <= best.voucher.nonce) {
      throw refuse("VoucherNonceReplayed", "voucher nonce is not above the last accepted one", {
        nonce: v.nonce.toString(),
        lastNonce: best.voucher.nonce.toString(),
      });
    }
    if (best && v.amount < best.voucher.amount) {
      throw refuse("VoucherAmountLowered", "voucher lowers the lane's amount", {
        amount: v.amount.toString(),
        previous: best.voucher.amount.toString(),
      });
    }
  };
  beatsBest(retrievals.bestVoucher(v.channelId, v.lane));
  if (v.amount < required) {
    throw refuse("VoucherTooLow", "voucher does not pay for the bytes already sent", {
      amount: v.amount.toString(),
      required: required.toString(),
    });
  }
  if (!(await verifyVoucher(c.clients, c.contracts.paymentChannels, channel.payer, signed))) {
    throw refuse("VoucherBadSignature", "voucher is not signed by the channel's payer", { payer: channel.payer });
  }
  retrievals.commitVoucher(signed, (best, otherLanesOwed) => {
    beatsBest(best);
    const owedTotal = otherLanesOwed + v.amount;
    if (channel.collected || owedTotal > channel.funds) {
      throw refuse("ChannelUnderfunded", "the channel's funds do not cover its vouchers", {
        funds: channel.funds.toString(),
        owed: owedTotal.toString(),
      });
    }
  });
}

/**
 * Grants a data request its bytes from `offset` (decisions 37): the retrieval's current interval,
 * cut so that the client's unpaid bytes — on all its lanes and channels with this provider — stay
 * within the allowance and its channel's free funds cover them; bytes the lane was already sent
 * may be sent again. Decided and recorded in one transaction (see
 * {@link RetrievalStore.grantInterval}).
 *
 * @param offset Offset into the piece, within the retrieval's range.
 * @throws HttpError 402 UnpaidLimitReached (details: channelId, client, unpaidBytes,
 *   maxUnpaidBytes, owed, owedLanes, required) or UnpaidExceedsFunds (details: channelId, funds,
 *   vouchers, owed, required), where `owed` is what the client owes for bytes sent and not paid
 *   for and `required` the amount a voucher on this lane must carry to be sent the interval in
 *   advance, both in token base units.
 */
export function grantInterval(
  init: Pick<ProviderInit, "maxUnpaidBytes" | "retrievalAsk">,
  retrievals: RetrievalStore,
  row: RetrievalRow,
  channel: ChannelState,
  offset: number,
): GrantedInterval {
  const maxUnpaidBytes = maxUnpaidBytesOf(init);
  const open = !channel.collected && channel.settlingAt === 0n;
  let wanted = 0;
  let vouchers = 0n;
  const outcome = retrievals.grantInterval(row.id, (s) => {
    wanted = Math.min(intervalBytes(s.row, s.row.intervalsServed), s.row.endOffset - offset);
    vouchers = s.channelVouchers;
    const free = channel.funds - s.channelVouchers - s.otherUnpaidValue;
    return grantBytes({
      fromBytes: offset - s.row.startOffset,
      wantedBytes: wanted,
      lane: s.lane,
      otherUnpaidBytes: s.otherUnpaidBytes,
      maxUnpaidBytes,
      fundedBytes: open ? fundedBytes(free, s.row.pricePerByte) : 0,
    });
  });
  if (outcome.grant.granted) return { bytes: outcome.grant.bytes, interval: outcome.row.intervalsServed };
  const reason: UnpaidRefusal = outcome.grant.reason;
  const debt = retrievals.debtOf(row.client);
  const common = {
    retrievalId: row.id,
    channelId: row.channelId.toString(),
    owed: debt.owed.toString(),
    required: (row.pricePerByte * BigInt(offset - row.startOffset + wanted)).toString(),
  };
  if (reason === "UnpaidExceedsFunds") {
    throw new HttpError(402, reason, "the channel's free funds do not cover the bytes it would owe", {
      ...common,
      funds: channel.funds.toString(),
      vouchers: vouchers.toString(),
    });
  }
  throw new HttpError(402, reason, "the client already owes for all the unpaid bytes this provider allows", {
    ...common,
    client: row.client,
    unpaidBytes: debt.unpaidBytes,
    maxUnpaidBytes,
    owedLanes: debt.lanes.map((l) => `channel ${l.channelId} lane ${l.lane}: ${l.unpaidBytes} bytes`).join("; "),
  });
}
