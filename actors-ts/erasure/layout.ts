import { InvalidArgumentError } from "../core/errors";
import { QUAD_PAYLOAD_BYTES } from "../piece/constants";
import { checkCodingParams } from "./reed-solomon";

/**
 * How a file maps onto erasure-coded pieces (DESIGN.md "Erasure coding"): the file is cut into
 * stripes of k shares of `shareSize` bytes (the last stripe zero-padded); each stripe is encoded
 * into n = k + m shares; piece i is share i of every stripe, back to back. Given
 * (fileSize, k, m, shareSize) everything is deterministic.
 */
export interface FileLayout {
  /** File bytes. */
  fileSize: number;
  k: number;
  m: number;
  /** Bytes per share. */
  shareSize: number;
  /** Stripes (at least 1). */
  stripes: number;
  /** Payload bytes of every piece: stripes · shareSize. */
  pieceSize: number;
}

/** Default largest share: 1024 fr32 quads (130,048 bytes), so one stripe of a piece fills 128 KiB padded. */
export const DEFAULT_MAX_SHARE_SIZE = QUAD_PAYLOAD_BYTES * 1024;

/**
 * A share size for a file: as few stripes as `maxShareSize` allows, and shares just big enough
 * (a whole number of fr32 quads, 127 bytes) for those stripes to hold the file, so the pieces
 * carry at most one quad per stripe beyond the file's own bytes. Clients pay for pieces' payload
 * bytes, not for padding to a power of two (RepairMarket `addBid`, provider asks), so what counts
 * is payload: a 4 + 2 file pays about 1.5× its size (bench `store/overhead/*`).
 *
 * @param fileSize Bytes.
 * @param k Data shares per stripe.
 * @param maxShareSize Upper bound, bytes.
 */
export function chooseShareSize(fileSize: number, k: number, maxShareSize = DEFAULT_MAX_SHARE_SIZE): number {
  const max = Math.max(maxShareSize, QUAD_PAYLOAD_BYTES);
  const stripes = Math.max(1, Math.ceil(fileSize / (k * max)));
  const perShare = Math.max(1, Math.ceil(fileSize / (k * stripes)));
  return Math.min(Math.ceil(perShare / QUAD_PAYLOAD_BYTES) * QUAD_PAYLOAD_BYTES, max);
}

/**
 * The layout of a file.
 *
 * @throws InvalidArgumentError for bad k/m or a non-positive share size.
 */
export function fileLayout(fileSize: number, k: number, m: number, shareSize: number): FileLayout {
  checkCodingParams(k, m);
  if (!Number.isSafeInteger(fileSize) || fileSize < 0) {
    throw new InvalidArgumentError("file size must be a non-negative safe integer", { details: { fileSize } });
  }
  if (!Number.isInteger(shareSize) || shareSize < 1) {
    throw new InvalidArgumentError("share size must be a positive integer", { details: { shareSize } });
  }
  const stripes = Math.max(1, Math.ceil(fileSize / (k * shareSize)));
  return { fileSize, k, m, shareSize, stripes, pieceSize: stripes * shareSize };
}

/**
 * What RepairMarket counts as a file's power before it is encoded: the payload bytes of its
 * k + m pieces with the default share size ({@link chooseShareSize}), which is what the client
 * bids (`addBid`'s `size`) and `addDeal` adds to the miner's `powerBytes`.
 *
 * @param fileSize Bytes.
 * @returns Encoded payload bytes, (k + m) × one piece's payload.
 * @throws InvalidArgumentError for bad k/m or file size.
 * @example encodedPayloadBytesOfFile(1 << 30, 4, 2) // 1611294720n (1.5 GiB and at most a quad per stripe)
 */
export function encodedPayloadBytesOfFile(fileSize: number, k: number, m: number): bigint {
  const layout = fileLayout(fileSize, k, m, chooseShareSize(fileSize, k));
  return BigInt(layout.pieceSize) * BigInt(k + m);
}
