import { InvalidArgumentError, RepairMarketError } from "../core/errors";
import { CHUNK_LOG2_LEAVES, CHUNK_PAYLOAD_BYTES, LEAVES_PER_QUAD, NODE_BYTES, QUAD_PAYLOAD_BYTES } from "./constants";
import { fr32PadQuads } from "./fr32";
import { hashLayer } from "./sha254";
import { pieceGeometry } from "./commp";
import type { PayloadReader, PieceTreeCache } from "./piece-proof";

/**
 * Merkle range proofs over a piece-commitment tree: the nodes that let anyone holding a run of
 * whole fr32 quads of a piece (127 payload bytes → 4 leaves each) recompute the piece's CommP
 * root, so a byte range fetched at any offset is checked against the commitment alone.
 *
 * The run's leaves are hashed up level by level; at level l (leaf level 0) the run's nodes are
 * [a_l, b_l) with a_0 = firstLeaf, b_0 = firstLeaf + leafCount, a_{l+1} = ⌊a_l / 2⌋,
 * b_{l+1} = ⌈b_l / 2⌉. When a_l is odd the run's first node is a right child and its left
 * neighbour (a_l − 1) is a proof node; when b_l is odd the last node is a left child and its right
 * neighbour (b_l) is one. At most two nodes per level, 2 · height in all, where height is the
 * piece tree's height.
 */

/** A run of whole quads of a piece: payload bytes [firstQuad · 127, (firstQuad + quadCount) · 127). */
export interface QuadRun {
  firstQuad: number;
  /** At least 1. */
  quadCount: number;
}

/** The boundary nodes of a run of leaves, one slot per level (leaf level first). */
export interface RangeProof {
  /** First leaf of the run (a multiple of 4). */
  firstLeaf: number;
  /** Leaves in the run (a multiple of 4). */
  leafCount: number;
  /** left[l]: the 32-byte node left of the run at level l when the run starts on a right child, else undefined. */
  left: (Uint8Array | undefined)[];
  /** right[l]: the 32-byte node right of the run at level l when the run ends on a left child, else undefined. */
  right: (Uint8Array | undefined)[];
}

/** A range proof is missing a node it needs, or does not fit the run it claims to prove. */
export class RangeProofShapeError extends RepairMarketError {
  override name = "RangeProofShapeError" as const;
}

/**
 * The whole quads holding payload bytes [offset, offset + length) of a piece, clipped to its
 * last quad (which the payload may fill only in part: the rest is zero).
 *
 * @param payloadSize Payload bytes of the piece.
 * @param offset First byte wanted, 0 ≤ offset < payloadSize.
 * @param length Bytes wanted, ≥ 1.
 * @throws InvalidArgumentError for an empty range or one outside the payload.
 */
export function quadRunOf(payloadSize: number, offset: number, length: number): QuadRun {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 1) {
    throw new InvalidArgumentError("a byte range needs offset ≥ 0 and length ≥ 1", { details: { offset, length } });
  }
  if (offset + length > payloadSize) {
    throw new InvalidArgumentError("byte range runs past the piece's payload", {
      details: { offset, length, payloadSize },
    });
  }
  const firstQuad = Math.floor(offset / QUAD_PAYLOAD_BYTES);
  const endQuad = Math.ceil((offset + length) / QUAD_PAYLOAD_BYTES);
  return { firstQuad, quadCount: endQuad - firstQuad };
}

/**
 * Indices of the proof nodes a run of leaves needs: per level, the left and right neighbour's
 * index at that level, or -1 when none is needed.
 *
 * @param firstLeaf First leaf, ≥ 0. @param leafCount Leaves, ≥ 1. @param height Tree height.
 */
export function rangeProofShape(
  firstLeaf: number,
  leafCount: number,
  height: number,
): { left: number[]; right: number[] } {
  const left: number[] = [];
  const right: number[] = [];
  let a = firstLeaf;
  let b = firstLeaf + leafCount;
  for (let level = 0; level < height; level++) {
    left.push(a % 2 === 1 ? a - 1 : -1);
    right.push(b % 2 === 1 ? b : -1);
    a = Math.floor(a / 2);
    b = Math.ceil(b / 2);
  }
  return { left, right };
}

/**
 * Builds the range proof of a run of quads. Reads at most the two chunks (≤ 1,040,384 payload
 * bytes each) holding the run's first and last leaf, and only when the run does not start or end
 * on a chunk boundary; nodes above the chunk level come from `cache`.
 *
 * @param read Reads payload bytes. @param payloadSize Payload bytes in the piece.
 * @param run Quads to prove (within the piece's quads).
 * @param cache Upper layers; required for pieces above 2^15 leaves.
 * @throws InvalidArgumentError for a run outside the piece or a missing cache.
 */
export async function proveRange(
  read: PayloadReader,
  payloadSize: number,
  run: QuadRun,
  cache?: PieceTreeCache,
): Promise<RangeProof> {
  const { height, dataLeaves } = pieceGeometry(payloadSize);
  const firstLeaf = run.firstQuad * LEAVES_PER_QUAD;
  const leafCount = run.quadCount * LEAVES_PER_QUAD;
  if (!Number.isSafeInteger(firstLeaf) || run.quadCount < 1 || firstLeaf < 0 || firstLeaf + leafCount > dataLeaves) {
    throw new InvalidArgumentError("quad run outside the piece", { details: { ...run, payloadSize } });
  }
  if (height > CHUNK_LOG2_LEAVES && !cache) {
    throw new InvalidArgumentError("pieces above 2^15 leaves need a PieceTreeCache to prove", { details: { height } });
  }
  const chunkHeight = Math.min(height, CHUNK_LOG2_LEAVES);
  const layersOf = new Map<number, Uint8Array[]>();
  const nodeAt = async (level: number, index: number): Promise<Uint8Array> => {
    // Levels at or above the chunk level exist only when height > 15, where the cache is required.
    if (level >= chunkHeight) return (cache as PieceTreeCache).node(level, index);
    const perChunk = 2 ** (chunkHeight - level);
    const chunk = Math.floor(index / perChunk);
    let layers = layersOf.get(chunk);
    if (!layers) {
      layers = await chunkLayers(read, payloadSize, chunk, chunkHeight);
      layersOf.set(chunk, layers);
    }
    const local = index - chunk * perChunk;
    return layers[level].slice(local * NODE_BYTES, (local + 1) * NODE_BYTES);
  };
  const shape = rangeProofShape(firstLeaf, leafCount, height);
  const left: (Uint8Array | undefined)[] = [];
  const right: (Uint8Array | undefined)[] = [];
  for (let level = 0; level < height; level++) {
    left.push(shape.left[level] < 0 ? undefined : await nodeAt(level, shape.left[level]));
    right.push(shape.right[level] < 0 ? undefined : await nodeAt(level, shape.right[level]));
  }
  return { firstLeaf, leafCount, left, right };
}

/**
 * The root a run of leaves and its proof lead to (the caller compares it with the CommP root).
 *
 * @param leaves The run's 32-byte leaves back to back (fr32-padded payload, `fr32PadQuads`).
 * @param firstLeaf Index of the first leaf. @param height Height of the piece tree.
 * @param proof Boundary nodes per level; only the slots the run needs are read.
 * @returns The 32-byte root.
 * @throws RangeProofShapeError when a node the run needs is missing.
 */
export function rootFromRange(
  leaves: Uint8Array,
  firstLeaf: number,
  height: number,
  proof: Pick<RangeProof, "left" | "right">,
): Uint8Array {
  let layer = leaves;
  let a = firstLeaf;
  let b = firstLeaf + leaves.length / NODE_BYTES;
  for (let level = 0; level < height; level++) {
    const left = a % 2 === 1 ? proof.left[level] : undefined;
    const right = b % 2 === 1 ? proof.right[level] : undefined;
    if ((a % 2 === 1 && !left) || (b % 2 === 1 && !right)) {
      throw new RangeProofShapeError("range proof lacks a boundary node", { details: { level, firstLeaf, height } });
    }
    let full = layer;
    if (left || right) {
      full = new Uint8Array(layer.length + (left ? NODE_BYTES : 0) + (right ? NODE_BYTES : 0));
      if (left) full.set(left, 0);
      full.set(layer, left ? NODE_BYTES : 0);
      if (right) full.set(right, full.length - NODE_BYTES);
    }
    const next = new Uint8Array(full.length / 2);
    hashLayer(full, next);
    layer = next;
    a = Math.floor(a / 2);
    b = Math.ceil(b / 2);
  }
  if (layer.length !== NODE_BYTES) {
    throw new RangeProofShapeError("leaf run does not fit the tree", { details: { firstLeaf, height } });
  }
  return layer;
}

/**
 * The leaves of payload bytes that start on a quad boundary: zero-filled to whole quads, then
 * fr32-padded (4 leaves of 32 bytes per quad).
 *
 * @param payload Bytes from a quad boundary; the last quad may be short (zeros follow).
 */
export function leavesOfPayload(payload: Uint8Array): Uint8Array {
  const quads = Math.max(1, Math.ceil(payload.length / QUAD_PAYLOAD_BYTES));
  const whole = new Uint8Array(quads * QUAD_PAYLOAD_BYTES);
  whole.set(payload);
  const leaves = new Uint8Array(quads * LEAVES_PER_QUAD * NODE_BYTES);
  fr32PadQuads(whole, 0, quads, leaves, 0);
  return leaves;
}

/** Every layer of chunk `chunk`'s subtree, leaves first (2^chunkHeight leaves, zeros past the data). */
async function chunkLayers(
  read: PayloadReader,
  payloadSize: number,
  chunk: number,
  chunkHeight: number,
): Promise<Uint8Array[]> {
  const offset = chunk * CHUNK_PAYLOAD_BYTES;
  const wanted = Math.max(0, Math.min(CHUNK_PAYLOAD_BYTES, payloadSize - offset));
  const bytes = wanted > 0 ? await read(offset, wanted) : new Uint8Array(0);
  if (bytes.length !== wanted) {
    throw new InvalidArgumentError("payload shorter than its recorded size", {
      details: { offset, expected: wanted, actual: bytes.length },
    });
  }
  const layer0 = new Uint8Array(2 ** chunkHeight * NODE_BYTES);
  layer0.set(leavesOfPayload(bytes).subarray(0, layer0.length));
  const layers = [layer0];
  for (let level = 0; level < chunkHeight; level++) {
    const below = layers[level];
    const above = new Uint8Array(below.length / 2);
    hashLayer(below, above);
    layers.push(above);
  }
  return layers;
}
