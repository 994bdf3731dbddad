/**
 * Sizes of Filecoin's piece commitment (CommP), as in FRC-0069 and go-fil-commp-hashhash.
 *
 * Words used throughout `actors-ts/piece`:
 * - *payload*: the bytes a client stores, any length;
 * - *quad*: 127 payload bytes, which fr32 padding turns into 128 bytes = four 32-byte leaves;
 * - *leaf* / *node*: 32 bytes; a node's parent is sha254(left ‖ right);
 * - *padded piece size*: leaves × 32 after zero-padding to a power of two (at least 128 bytes);
 * - *height*: log2(leaves), the number of sibling nodes in a Merkle path.
 */

/** Payload bytes per fr32 quad. */
export const QUAD_PAYLOAD_BYTES = 127;
/** Padded bytes per fr32 quad. */
export const QUAD_PADDED_BYTES = 128;
/** Bytes per Merkle node. */
export const NODE_BYTES = 32;
/** Leaves per quad. */
export const LEAVES_PER_QUAD = 4;
/** Smallest padded piece: one quad. */
export const MIN_PADDED_PIECE_BYTES = 128;

/**
 * Leaves per streaming chunk (2^15): a chunk is hashed as one aligned subtree. Proof generation
 * re-reads exactly one chunk from disk and takes the levels above it from a small cache.
 */
export const CHUNK_LOG2_LEAVES = 15;
/** Leaves per streaming chunk. */
export const CHUNK_LEAVES = 1 << CHUNK_LOG2_LEAVES;
/** Quads per streaming chunk (8192). */
export const CHUNK_QUADS = CHUNK_LEAVES / LEAVES_PER_QUAD;
/** Payload bytes per streaming chunk (1,040,384). */
export const CHUNK_PAYLOAD_BYTES = CHUNK_QUADS * QUAD_PAYLOAD_BYTES;
/** Padded bytes per streaming chunk (1 MiB). */
export const CHUNK_PADDED_BYTES = CHUNK_QUADS * QUAD_PADDED_BYTES;
