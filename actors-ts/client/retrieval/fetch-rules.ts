import type { RegisteredProvider } from "../../chain/registry/reads";
import { PeerRejectedError } from "../../core/http-client";
import { subChunkPlanGeometry } from "../../piece/subchunk-proof";
import { CREDIT_REFUSALS, type OpenRetrievalResponse } from "../../protocol/provider-api";
import type { PieceSpan } from "./span-verifier";
import type { SubChunkPlan } from "../../piece/subchunk-proof";

/** Small rules of a piece fetch ({@link PieceFetcher}), kept apart to keep that file readable. */

/** The payment terms of an interval. */
export type IntervalTerms = Pick<
  OpenRetrievalResponse,
  "paymentIntervalBytes" | "paymentIntervalIncreaseBytes" | "maxUnpaidBytes"
>;

/** What {@link streamEnd} needs of a fetch target. */
interface RangeOfTarget {
  payloadSize: number;
  span?: PieceSpan;
  plan?: SubChunkPlan;
}

/** Interval terms from the provider's registered ask (a resumed fetch was not told its own). */
export function termsOfAsk(provider: RegisteredProvider): IntervalTerms {
  const ask = provider.retrievalAsk;
  return {
    paymentIntervalBytes: Number(ask.paymentIntervalBytes),
    paymentIntervalIncreaseBytes: Number(ask.paymentIntervalIncreaseBytes),
    maxUnpaidBytes: Number(ask.paymentIntervalBytes),
  };
}

/** A 402 refusing credit (not payment): paying the interval in advance is served. */
export function isCreditRefusal(err: unknown): boolean {
  return (
    err instanceof PeerRejectedError &&
    err.statusCode === 402 &&
    (CREDIT_REFUSALS as readonly string[]).includes(err.code)
  );
}

/** Where a fetch's range ends: its span's end, its plan's stream length, or the piece's end. */
export function streamEnd(target: RangeOfTarget): number {
  if (target.plan) return subChunkPlanGeometry(target.plan, target.payloadSize).streamBytes;
  return target.span?.end ?? target.payloadSize;
}

export function max0(x: bigint): bigint {
  return x > 0n ? x : 0n;
}
