import { Readable } from "node:stream";
import type { BlobStore } from "../../core/blob-store";
import { InvalidArgumentError } from "../../core/errors";
import { HttpError } from "../../core/http-errors";
import { subChunkPlanGeometry, subChunkRecord, type SubChunkPlan } from "../../piece/subchunk-proof";

/**
 * The plan's stream length for a held piece, for opening a sub-chunk plan's retrieval.
 *
 * @returns Bytes of the plan's stream (its records, back to back).
 * @throws HttpError 400 InvalidPlan naming the rule the plan breaks.
 */
export function planStreamBytes(plan: SubChunkPlan, payloadSize: number): number {
  try {
    return subChunkPlanGeometry(plan, payloadSize).streamBytes;
  } catch (err) {
    if (err instanceof InvalidArgumentError) {
      throw new HttpError(400, "InvalidPlan", err.message, { ...err.details });
    }
    throw err;
  }
}

/**
 * Bytes [offset, offset + length) of a sub-chunk plan's stream over the piece stored under
 * `key`: each record is built from its stripe's share read from disk (one share in memory at a
 * time), its sub-chunks' roots hashed here, so the helper's disk reads are the shares and its
 * network bytes only the record.
 */
export function planStream(
  blobs: Pick<BlobStore, "readRange">,
  key: string,
  plan: SubChunkPlan,
  payloadSize: number,
  offset: number,
  length: number,
): Readable {
  const geometry = subChunkPlanGeometry(plan, payloadSize);
  const { recordBytes } = geometry;
  const end = offset + length;
  async function* records(): AsyncGenerator<Uint8Array> {
    for (let r = Math.floor(offset / recordBytes); r * recordBytes < end; r++) {
      const stripe = plan.firstStripe + r;
      const share = await blobs.readRange(key, stripe * plan.shareSize, plan.shareSize);
      const record = subChunkRecord(share, plan, geometry);
      const from = Math.max(0, offset - r * recordBytes);
      const to = Math.min(recordBytes, end - r * recordBytes);
      yield record.subarray(from, to);
    }
  }
  return Readable.from(records(), { objectMode: false });
}
