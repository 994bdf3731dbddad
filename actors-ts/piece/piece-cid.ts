import { CID } from "multiformats/cid";
import * as Digest from "multiformats/hashes/digest";
import { varint } from "multiformats";
import { InvalidArgumentError } from "../core/errors";
import { NODE_BYTES, QUAD_PAYLOAD_BYTES } from "./constants";

/**
 * PieceCID v2 (FRC-0069): CIDv1, codec `raw` (0x55), multihash
 * `fr32-sha2-256-trunc254-padded-binary-tree` (0x1011) whose digest is
 * `uvarint(padding) ‖ height (1 byte) ‖ root (32 bytes)`. `padding` is the number of zero
 * payload bytes added to fill the piece, so the CID carries the exact payload size.
 */

/** Multicodec of the raw codec. */
export const RAW_CODEC = 0x55;
/** Multihash code `fr32-sha2-256-trunc254-padded-binary-tree` (FRC-0069). */
export const PIECE_MULTIHASH_CODE = 0x1011;

/** The fields a PieceCID v2 encodes. */
export interface PieceCidParts {
  /** CommP root, 32 bytes. */
  root: Uint8Array;
  /** log2 of the piece's leaf count. */
  height: number;
  /** Zero payload bytes appended to reach the padded size. */
  padding: number;
  /** Payload bytes: unpadded capacity − padding. */
  payloadSize: number;
  /** Padded piece size in bytes (32 · 2^height). */
  paddedSize: number;
}

/** Payload capacity of a padded piece: 127/128 of its size. */
function unpaddedCapacity(paddedSize: number): number {
  return (paddedSize / 128) * QUAD_PAYLOAD_BYTES;
}

/**
 * Encodes a PieceCID v2.
 *
 * @param root CommP root (32 bytes).
 * @param payloadSize Payload bytes the root commits to.
 * @returns The CID as a base32 string (`bafkzcib…`).
 * @throws InvalidArgumentError when the root is not 32 bytes.
 */
export function toPieceCidV2(root: Uint8Array, payloadSize: number): string {
  if (root.length !== NODE_BYTES) {
    throw new InvalidArgumentError("piece root must be 32 bytes", { details: { length: root.length } });
  }
  const quads = Math.max(1, Math.ceil(payloadSize / QUAD_PAYLOAD_BYTES));
  let height = 2;
  while (2 ** height < quads * 4) height++;
  const padding = unpaddedCapacity(2 ** height * NODE_BYTES) - payloadSize;
  const paddingBytes = varint.encodeTo(padding, new Uint8Array(varint.encodingLength(padding)));
  const digest = new Uint8Array(paddingBytes.length + 1 + NODE_BYTES);
  digest.set(paddingBytes, 0);
  digest[paddingBytes.length] = height;
  digest.set(root, paddingBytes.length + 1);
  return CID.create(1, RAW_CODEC, Digest.create(PIECE_MULTIHASH_CODE, digest)).toString();
}

/**
 * Decodes a PieceCID v2 string.
 *
 * @param pieceCid CID string.
 * @throws InvalidArgumentError when the string is not a CID, not raw-coded, not the piece
 * multihash, or its digest is malformed.
 */
export function parsePieceCidV2(pieceCid: string): PieceCidParts {
  let cid: CID;
  try {
    cid = CID.parse(pieceCid);
  } catch (cause) {
    throw new InvalidArgumentError("not a CID", { details: { pieceCid }, cause });
  }
  if (cid.code !== RAW_CODEC || cid.multihash.code !== PIECE_MULTIHASH_CODE) {
    throw new InvalidArgumentError("not a PieceCID v2 (raw codec, multihash 0x1011 expected)", {
      details: { pieceCid, codec: cid.code, multihash: cid.multihash.code },
    });
  }
  const digest = cid.multihash.digest;
  const [padding, paddingLength] = varint.decode(digest);
  if (digest.length !== paddingLength + 1 + NODE_BYTES) {
    throw new InvalidArgumentError("PieceCID v2 digest has the wrong length", {
      details: { pieceCid, length: digest.length },
    });
  }
  const height = digest[paddingLength];
  const paddedSize = 2 ** height * NODE_BYTES;
  const payloadSize = unpaddedCapacity(paddedSize) - padding;
  if (height < 2 || payloadSize < 0) {
    throw new InvalidArgumentError("PieceCID v2 has an impossible height or padding", {
      details: { pieceCid, height, padding },
    });
  }
  return { root: digest.slice(paddingLength + 1), height, padding, payloadSize, paddedSize };
}
