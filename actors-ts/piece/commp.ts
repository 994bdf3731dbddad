import { createReadStream } from "node:fs";
import {
  CHUNK_LEAVES,
  CHUNK_LOG2_LEAVES,
  CHUNK_PADDED_BYTES,
  CHUNK_PAYLOAD_BYTES,
  LEAVES_PER_QUAD,
  NODE_BYTES,
  QUAD_PADDED_BYTES,
  QUAD_PAYLOAD_BYTES,
} from "./constants";
import { fr32PadQuads } from "./fr32";
import { hashPair, subtreeRoot, subtreeScratchBytes, zeroRoot } from "./sha254";
import { toPieceCidV2 } from "./piece-cid";
import { InvalidStateError } from "../core/errors";

/** Result of hashing a payload into a piece commitment. */
export interface PieceCommitment {
  /** CommP root: 32 bytes, the value stored on chain as `bytes32 pieceCid`. */
  root: Uint8Array;
  /** Payload bytes hashed. */
  payloadSize: number;
  /** Padded piece size in bytes: 32 · 2^height, at least 128. */
  paddedSize: number;
  /** log2(paddedSize / 32): length of every Merkle path in the piece. */
  height: number;
  /** PieceCID v2 (FRC-0069), base32 string. */
  pieceCid: string;
}

/** Geometry of a piece derived from its payload size alone. */
export interface PieceGeometry {
  payloadSize: number;
  /** Leaves that hold payload (before power-of-two padding). */
  dataLeaves: number;
  paddedSize: number;
  height: number;
}

/**
 * Geometry of the piece holding `payloadSize` bytes: quads = ⌈size/127⌉ (at least one),
 * leaves = 4·quads rounded up to a power of two. Matches `@web3-storage/data-segment`.
 *
 * @param payloadSize Bytes, 0 ≤ size < 2^53.
 */
export function pieceGeometry(payloadSize: number): PieceGeometry {
  const quads = Math.max(1, Math.ceil(payloadSize / QUAD_PAYLOAD_BYTES));
  const dataLeaves = quads * LEAVES_PER_QUAD;
  let height = 0;
  while (2 ** height < dataLeaves) height++;
  return { payloadSize, dataLeaves, paddedSize: 2 ** height * NODE_BYTES, height };
}

/** Options of {@link CommPHasher}. */
export interface CommPHasherOptions {
  /**
   * Called with the root of every full 2^15-leaf chunk in order (and of the zero-padded last
   * one), so a prover can cache the tree above the chunks without a second pass.
   */
  onChunkRoot?: (chunkIndex: number, root: Uint8Array) => void;
}

/**
 * Streaming piece-commitment (CommP) hasher: constant memory (~2.5 MiB) for any payload size.
 * Payload is fr32-padded a chunk (1,040,384 bytes → 2^15 leaves) at a time; each chunk's
 * subtree is hashed with batched SHA-256 and merged into a frontier of subtree roots, one per
 * level, as a binary counter.
 *
 * @example
 * const hasher = new CommPHasher();
 * for await (const chunk of stream) hasher.update(chunk);
 * const { root, pieceCid, paddedSize } = hasher.digest();
 */
export class CommPHasher {
  private readonly chunk = new Uint8Array(CHUNK_PAYLOAD_BYTES);
  private readonly padded = new Uint8Array(CHUNK_PADDED_BYTES);
  private readonly scratch = new Uint8Array(subtreeScratchBytes(CHUNK_PADDED_BYTES));
  /** frontier[l] = pending left subtree root at level l (only l ≥ 15 are used). */
  private readonly frontier: (Uint8Array | undefined)[] = [];
  private chunkFill = 0;
  private chunksDone = 0;
  private payloadBytes = 0;
  private finished = false;

  constructor(private readonly options: CommPHasherOptions = {}) {}

  /**
   * Adds payload bytes.
   *
   * @param data Any length; not retained.
   * @throws Error when called after {@link digest}.
   */
  update(data: Uint8Array): this {
    if (this.finished) throw new InvalidStateError("CommPHasher.update called after digest()");
    let offset = 0;
    while (offset < data.length) {
      const take = Math.min(data.length - offset, CHUNK_PAYLOAD_BYTES - this.chunkFill);
      this.chunk.set(data.subarray(offset, offset + take), this.chunkFill);
      this.chunkFill += take;
      offset += take;
      if (this.chunkFill === CHUNK_PAYLOAD_BYTES) this.flushFullChunk();
    }
    this.payloadBytes += data.length;
    return this;
  }

  /** Payload bytes consumed so far. */
  get bytesHashed(): number {
    return this.payloadBytes;
  }

  /**
   * Finishes the piece: zero-pads the payload to a whole number of quads and the leaves to a
   * power of two, and returns the commitment. The hasher cannot be reused afterwards.
   */
  digest(): PieceCommitment {
    if (this.finished) throw new InvalidStateError("CommPHasher.digest called twice");
    this.finished = true;
    const geometry = pieceGeometry(this.payloadBytes);
    let carry: Uint8Array | undefined;
    let level = CHUNK_LOG2_LEAVES;
    if (this.chunkFill > 0 || this.chunksDone === 0) {
      const quads = Math.max(1, Math.ceil(this.chunkFill / QUAD_PAYLOAD_BYTES));
      this.chunk.fill(0, this.chunkFill, quads * QUAD_PAYLOAD_BYTES);
      let leaves = 1;
      level = 0;
      while (leaves < quads * LEAVES_PER_QUAD) {
        leaves *= 2;
        level++;
      }
      const bytes = leaves * NODE_BYTES;
      fr32PadQuads(this.chunk, 0, quads, this.padded, 0);
      this.padded.fill(0, quads * QUAD_PADDED_BYTES, bytes);
      carry = subtreeRoot(this.padded.subarray(0, bytes), this.scratch);
      if (this.options.onChunkRoot) {
        // Report the last chunk as a full 2^15-leaf subtree (zero leaves beyond the data).
        let chunkRoot = carry;
        for (let l = level; l < CHUNK_LOG2_LEAVES; l++) chunkRoot = hashPair(chunkRoot, zeroRoot(l));
        this.options.onChunkRoot(this.chunksDone, chunkRoot);
      }
    }
    for (let l = level; l < geometry.height; l++) {
      const left = this.frontier[l];
      if (left && carry) carry = hashPair(left, carry);
      else if (left) carry = hashPair(left, zeroRoot(l));
      else if (carry) carry = hashPair(carry, zeroRoot(l));
    }
    const root = carry ?? this.frontier[geometry.height];
    if (!root) throw new InvalidStateError("CommPHasher: empty frontier (internal error)");
    return {
      root,
      payloadSize: this.payloadBytes,
      paddedSize: geometry.paddedSize,
      height: geometry.height,
      pieceCid: toPieceCidV2(root, this.payloadBytes),
    };
  }

  private flushFullChunk(): void {
    fr32PadQuads(this.chunk, 0, CHUNK_LEAVES / LEAVES_PER_QUAD, this.padded, 0);
    let node = subtreeRoot(this.padded, this.scratch);
    this.options.onChunkRoot?.(this.chunksDone, node);
    let level = CHUNK_LOG2_LEAVES;
    for (let left = this.frontier[level]; left; left = this.frontier[level]) {
      node = hashPair(left, node);
      this.frontier[level] = undefined;
      level++;
    }
    this.frontier[level] = node;
    this.chunksDone++;
    this.chunkFill = 0;
  }
}

/**
 * Roots of 2^15-leaf chunks one at a time, with buffers allocated once (a verifier checks a
 * piece a chunk at a time; a {@link CommPHasher} per chunk allocated 2.5 MiB each time).
 */
export class ChunkRootHasher {
  private readonly chunk = new Uint8Array(CHUNK_PAYLOAD_BYTES);
  private readonly padded = new Uint8Array(CHUNK_PADDED_BYTES);
  private readonly scratch = new Uint8Array(subtreeScratchBytes(CHUNK_PADDED_BYTES));

  /**
   * The root of the chunk holding `payload` (at most 1,040,384 bytes; a shorter one is
   * zero-padded to the whole chunk, as the last chunk of a piece is): what
   * {@link CommPHasherOptions.onChunkRoot} reports for it.
   *
   * @returns A new 32-byte node.
   * @throws InvalidStateError when `payload` is longer than a chunk.
   */
  root(payload: Uint8Array): Uint8Array {
    if (payload.length > CHUNK_PAYLOAD_BYTES) {
      throw new InvalidStateError("ChunkRootHasher: payload longer than a chunk", {
        details: { bytes: payload.length },
      });
    }
    let source = payload;
    if (payload.length < CHUNK_PAYLOAD_BYTES) {
      this.chunk.set(payload, 0);
      this.chunk.fill(0, payload.length);
      source = this.chunk;
    }
    fr32PadQuads(source, 0, CHUNK_LEAVES / LEAVES_PER_QUAD, this.padded, 0);
    return subtreeRoot(this.padded, this.scratch);
  }
}

/**
 * Piece commitment of an in-memory payload.
 *
 * @param payload Bytes, any length (0 gives the 128-byte zero piece).
 */
export function commpOfBytes(payload: Uint8Array): PieceCommitment {
  return new CommPHasher().update(payload).digest();
}

/**
 * Piece commitment of a stream of payload bytes (file, HTTP body), in constant memory.
 *
 * @param source Async iterable of byte chunks.
 * @param options See {@link CommPHasherOptions}.
 */
export async function commpOfStream(
  source: AsyncIterable<Uint8Array>,
  options?: CommPHasherOptions,
): Promise<PieceCommitment> {
  const hasher = new CommPHasher(options);
  for await (const chunk of source) hasher.update(chunk);
  return hasher.digest();
}

/**
 * Piece commitment of a file's bytes.
 *
 * @param path File path.
 * @param options See {@link CommPHasherOptions}.
 * @throws NodeJS.ErrnoException when the file cannot be read.
 */
export async function commpOfFile(path: string, options?: CommPHasherOptions): Promise<PieceCommitment> {
  return commpOfStream(createReadStream(path, { highWaterMark: CHUNK_PAYLOAD_BYTES }), options);
}
