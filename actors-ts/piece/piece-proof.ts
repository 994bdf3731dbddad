import { InvalidArgumentError } from "../core/errors";
import { CHUNK_LEAVES, CHUNK_LOG2_LEAVES, CHUNK_PAYLOAD_BYTES, NODE_BYTES, QUAD_PAYLOAD_BYTES } from "./constants";
import { fr32PadQuads } from "./fr32";
import { hashLayer, hashPair, zeroRoot } from "./sha254";
import { pieceGeometry } from "./commp";

/**
 * Merkle inclusion proofs for leaves of a piece-commitment tree, in the layout
 * `Sha254MerkleProof.processProof` verifies on chain: `siblings[l]` is the sibling at level l
 * (leaf level first); at level l the path node is the left child when bit l of the index is 0.
 */
export interface LeafProof {
  /** Leaf position in the piece, 0-based. */
  leafIndex: number;
  /** The 32-byte fr32 leaf. */
  leaf: Uint8Array;
  /** One 32-byte sibling per level, `height` in all. */
  siblings: Uint8Array[];
}

/** Reads `length` payload bytes at `offset`; may return fewer at the end of the payload. */
export type PayloadReader = (offset: number, length: number) => Promise<Uint8Array>;

/**
 * Root reached from a proof (verification off chain, mirrors the contract).
 *
 * @param proof The leaf, its index and siblings.
 * @returns The 32-byte root.
 */
export function rootFromProof(proof: LeafProof): Uint8Array {
  let node = proof.leaf;
  let index = proof.leafIndex;
  for (const sibling of proof.siblings) {
    node = index % 2 === 0 ? hashPair(node, sibling) : hashPair(sibling, node);
    index = Math.floor(index / 2);
  }
  return node;
}

/**
 * The tree above the 2^15-leaf chunk level, rebuilt from the chunk roots a
 * {@link CommPHasher} reports. Kept per stored piece so a proof re-reads one chunk
 * (1,040,384 payload bytes) from disk instead of the whole piece.
 */
export class PieceTreeCache {
  /** layers[i] holds the nodes at level 15 + i that have any data below them. */
  private readonly layers: Uint8Array[][];

  /**
   * @param chunkRoots Root of each chunk in order (last one zero-padded to 2^15 leaves).
   * @param height Height of the piece tree (≥ 15).
   */
  constructor(
    readonly chunkRoots: Uint8Array[],
    readonly height: number,
  ) {
    if (height < CHUNK_LOG2_LEAVES) {
      throw new InvalidArgumentError("a tree cache is only needed for pieces of 2^15 leaves or more", {
        details: { height },
      });
    }
    this.layers = [chunkRoots];
    for (let level = CHUNK_LOG2_LEAVES; level < height; level++) {
      const below = this.layers[this.layers.length - 1];
      const above: Uint8Array[] = [];
      for (let i = 0; i < below.length; i += 2) {
        above.push(hashPair(below[i], below[i + 1] ?? zeroRoot(level)));
      }
      this.layers.push(above);
    }
  }

  /** The piece root. */
  get root(): Uint8Array {
    return this.layers[this.layers.length - 1][0];
  }

  /** Node at `level` (≥ 15) and `index`, zero subtrees beyond the data. */
  node(level: number, index: number): Uint8Array {
    return this.layers[level - CHUNK_LOG2_LEAVES][index] ?? zeroRoot(level);
  }

  /** Chunk roots back to back (32 bytes each): what a prover stores on disk. */
  serialize(): Uint8Array {
    const out = new Uint8Array(this.chunkRoots.length * NODE_BYTES);
    this.chunkRoots.forEach((root, i) => out.set(root, i * NODE_BYTES));
    return out;
  }

  /**
   * Rebuilds a cache from {@link serialize}'s bytes.
   *
   * @throws InvalidArgumentError when the bytes are not whole nodes.
   */
  static deserialize(bytes: Uint8Array, height: number): PieceTreeCache {
    if (bytes.length === 0 || bytes.length % NODE_BYTES !== 0) {
      throw new InvalidArgumentError("tree cache is not a whole number of 32-byte nodes", {
        details: { length: bytes.length },
      });
    }
    const roots: Uint8Array[] = [];
    for (let i = 0; i < bytes.length; i += NODE_BYTES) roots.push(bytes.slice(i, i + NODE_BYTES));
    return new PieceTreeCache(roots, height);
  }
}

/**
 * Builds the proof of one leaf. Reads only the chunk (≤ 1,040,384 payload bytes) holding the
 * leaf; levels above the chunk come from `cache`, which pieces of 2^15 leaves or more need.
 *
 * @param read Reads payload bytes.
 * @param payloadSize Payload bytes in the piece.
 * @param leafIndex 0 ≤ index < 2^height.
 * @param cache Upper layers (required when height > 15).
 * @throws InvalidArgumentError for an index outside the piece or a missing cache.
 */
export async function proveLeaf(
  read: PayloadReader,
  payloadSize: number,
  leafIndex: number,
  cache?: PieceTreeCache,
): Promise<LeafProof> {
  const { height } = pieceGeometry(payloadSize);
  if (!Number.isInteger(leafIndex) || leafIndex < 0 || leafIndex >= 2 ** height) {
    throw new InvalidArgumentError("leaf index outside the piece", { details: { leafIndex, height } });
  }
  const chunkHeight = Math.min(height, CHUNK_LOG2_LEAVES);
  if (height > CHUNK_LOG2_LEAVES && !cache) {
    throw new InvalidArgumentError("pieces above 2^15 leaves need a PieceTreeCache to prove", {
      details: { height },
    });
  }
  const chunkIndex = Math.floor(leafIndex / CHUNK_LEAVES);
  const chunkOffset = chunkIndex * CHUNK_PAYLOAD_BYTES;
  const wanted = Math.max(0, Math.min(CHUNK_PAYLOAD_BYTES, payloadSize - chunkOffset));
  const payload = new Uint8Array(Math.ceil(Math.max(wanted, 1) / QUAD_PAYLOAD_BYTES) * QUAD_PAYLOAD_BYTES);
  if (wanted > 0) {
    const bytes = await read(chunkOffset, wanted);
    if (bytes.length !== wanted) {
      throw new InvalidArgumentError("payload shorter than its recorded size", {
        details: { offset: chunkOffset, expected: wanted, actual: bytes.length },
      });
    }
    payload.set(bytes);
  }
  const leaves = 2 ** chunkHeight;
  const layer0 = new Uint8Array(leaves * NODE_BYTES);
  fr32PadQuads(payload, 0, payload.length / QUAD_PAYLOAD_BYTES, layer0, 0);

  const local = leafIndex % leaves;
  const siblings: Uint8Array[] = [];
  let layer = layer0;
  let index = local;
  for (let level = 0; level < chunkHeight; level++) {
    const sibling = index ^ 1;
    siblings.push(layer.slice(sibling * NODE_BYTES, (sibling + 1) * NODE_BYTES));
    const next = new Uint8Array(layer.length / 2);
    hashLayer(layer, next);
    layer = next;
    index >>= 1;
  }
  for (let level = chunkHeight; level < height; level++) {
    // cache is present here: checked above for height > 15.
    siblings.push((cache as PieceTreeCache).node(level, Math.floor(leafIndex / 2 ** level) ^ 1));
  }
  return { leafIndex, leaf: layer0.slice(local * NODE_BYTES, (local + 1) * NODE_BYTES), siblings };
}

/**
 * Proof for any leaf of an all-zero piece of 2^height leaves: every sibling is a zero
 * subtree root. Used to measure proofs over virtual-size pieces.
 *
 * @param height Tree height.
 * @param leafIndex 0 ≤ index < 2^height.
 */
export function zeroPieceProof(height: number, leafIndex: number): LeafProof {
  const siblings: Uint8Array[] = [];
  for (let level = 0; level < height; level++) siblings.push(zeroRoot(level));
  return { leafIndex, leaf: new Uint8Array(NODE_BYTES), siblings };
}
