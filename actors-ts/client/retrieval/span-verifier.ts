import { toHex } from "viem";
import { CHUNK_PAYLOAD_BYTES, QUAD_PAYLOAD_BYTES } from "../../piece/constants";
import { ChunkRootHasher, CommPHasher, pieceGeometry } from "../../piece/commp";
import { leavesOfPayload, rangeProofShape, rootFromRange, type RangeProof } from "../../piece/range-proof";
import { getRangeProof } from "../../protocol/provider-client";
import { InvalidArgumentError } from "../../core/errors";
import { PieceCommitmentMismatchError, verifiedChunkRoots, type CheckedPiece } from "./chunk-verifier";

/**
 * A part of a piece fetched on its own: payload bytes [start, end). `start` is a multiple of 127
 * (an fr32 quad boundary); `end` is one too, or the piece's payload size.
 */
export interface PieceSpan {
  start: number;
  end: number;
}

/** One part of a span checked at once: within one 2^15-leaf chunk. */
interface Segment {
  start: number;
  end: number;
  /** Throws PieceCommitmentMismatchError unless `bytes` (end − start of them) are the piece's. */
  check: (bytes: Uint8Array) => void;
}

/**
 * The quad-aligned span holding payload bytes [start, end) of a piece of `payloadSize` bytes:
 * what a fetch of those bytes must take so that every byte can be checked against the commitment.
 *
 * @throws InvalidArgumentError for an empty range or one past the payload.
 */
export function quadSpan(payloadSize: number, start: number, end: number): PieceSpan {
  if (!(Number.isSafeInteger(start) && Number.isSafeInteger(end) && 0 <= start && start < end && end <= payloadSize)) {
    throw new InvalidArgumentError("piece span is empty or outside the payload", {
      details: { start, end, payloadSize },
    });
  }
  return {
    start: Math.floor(start / QUAD_PAYLOAD_BYTES) * QUAD_PAYLOAD_BYTES,
    end: Math.min(payloadSize, Math.ceil(end / QUAD_PAYLOAD_BYTES) * QUAD_PAYLOAD_BYTES),
  };
}

/**
 * A {@link SpanVerifier} for `span` of `target`, with everything it checks against fetched
 * first (free, before anything is paid): the span is cut at chunk boundaries; a segment that is
 * a whole chunk is checked against its chunk root (`GET /pieces/:pieceCid/tree`, itself checked
 * against the commitment), and the at most two partial segments at the span's ends against the
 * piece root through a range proof (`GET /pieces/:pieceCid/proof`, `piece/range-proof.ts`).
 *
 * @throws PieceCommitmentMismatchError (malformed roots or proofs), PeerUnreachableError,
 *   PeerRejectedError, InvalidArgumentError (a span not on quad boundaries).
 */
export async function spanVerifierFor(target: CheckedPiece, span: PieceSpan): Promise<SpanVerifier> {
  const aligned = quadSpan(target.payloadSize, span.start, span.end);
  if (aligned.start !== span.start || aligned.end !== span.end) {
    throw new InvalidArgumentError("a verified span starts and ends on quad boundaries", { details: { ...span } });
  }
  const bounds: { start: number; end: number; whole: boolean }[] = [];
  for (let at = span.start; at < span.end;) {
    const chunkStart = Math.floor(at / CHUNK_PAYLOAD_BYTES) * CHUNK_PAYLOAD_BYTES;
    const chunkEnd = Math.min(chunkStart + CHUNK_PAYLOAD_BYTES, target.payloadSize);
    const end = Math.min(chunkEnd, span.end);
    bounds.push({ start: at, end, whole: at === chunkStart && end === chunkEnd });
    at = end;
  }
  const chunkRoots = bounds.some((b) => b.whole) ? await verifiedChunkRoots(target) : undefined;
  const segments: Segment[] = [];
  for (const b of bounds) {
    const check = b.whole
      ? chunkCheck(target, Math.floor(b.start / CHUNK_PAYLOAD_BYTES), chunkRoots)
      : proofCheck(target, b.start, await fetchProof(target, b.start, b.end));
    segments.push({ start: b.start, end: b.end, check });
  }
  return new SpanVerifier(segments);
}

/**
 * Checks a span of a piece segment by segment while it streams in; each segment (at most one
 * chunk, 1,040,384 bytes) is buffered until it is complete.
 */
export class SpanVerifier {
  private readonly buffer: Buffer;
  private filled = 0;
  private index = 0;

  constructor(private readonly segments: Segment[]) {
    this.buffer = Buffer.alloc(Math.max(1, ...segments.map((s) => s.end - s.start)));
  }

  /**
   * Starts at `offset`, a segment boundary (where a resumed fetch picks up).
   *
   * @throws InvalidArgumentError when no segment starts there.
   */
  startAt(offset: number): this {
    const index = this.segments.findIndex((s) => s.start === offset);
    if (index < 0 && offset !== this.segments[this.segments.length - 1]?.end) {
      throw new InvalidArgumentError("a span verifier resumes only on a segment boundary", { details: { offset } });
    }
    this.index = index < 0 ? this.segments.length : index;
    this.filled = 0;
    return this;
  }

  /**
   * Takes the next bytes of the span; returns the payload offset up to which it is verified.
   *
   * @throws PieceCommitmentMismatchError
   */
  push(bytes: Buffer): number {
    let consumed = 0;
    while (consumed < bytes.length && this.index < this.segments.length) {
      const segment = this.segments[this.index];
      const length = segment.end - segment.start;
      const take = Math.min(length - this.filled, bytes.length - consumed);
      bytes.copy(this.buffer, this.filled, consumed, consumed + take);
      this.filled += take;
      consumed += take;
      if (this.filled === length) {
        segment.check(this.buffer.subarray(0, length));
        this.index++;
        this.filled = 0;
      }
    }
    return this.index === 0 ? (this.segments[0]?.start ?? 0) : this.segments[this.index - 1].end;
  }
}

/** Buffers for the chunk checks of every span (checks run one at a time, on this thread). */
const chunkRootHasher = new ChunkRootHasher();

/** A whole chunk's check: its subtree root against the verified chunk root (or, for a one-chunk piece, the root). */
function chunkCheck(target: CheckedPiece, chunk: number, chunkRoots: Uint8Array[] | undefined): Segment["check"] {
  return (bytes) => {
    const actual: Uint8Array = chunkRoots ? chunkRootHasher.root(bytes) : new CommPHasher().update(bytes).digest().root;
    const expected = chunkRoots ? chunkRoots[chunk] : Buffer.from(target.root.slice(2), "hex");
    if (!actual || !expected || toHex(actual) !== toHex(expected)) {
      throw mismatch(target, chunk, expected ? toHex(expected) : "none", actual ? toHex(actual) : "none");
    }
  };
}

/** A partial chunk's check: its leaves and the range proof must lead to the piece root. */
function proofCheck(target: CheckedPiece, start: number, proof: RangeProof): Segment["check"] {
  const { height } = pieceGeometry(target.payloadSize);
  return (bytes) => {
    const actual = toHex(rootFromRange(leavesOfPayload(bytes), proof.firstLeaf, height, proof));
    if (actual !== target.root.toLowerCase()) {
      throw mismatch(target, Math.floor(start / CHUNK_PAYLOAD_BYTES), target.root, actual);
    }
  };
}

/**
 * The range proof of [start, end), checked for the shape this span needs (first leaf, leaf count,
 * height and every boundary node present), so a check can only fail on the bytes.
 *
 * @throws PieceCommitmentMismatchError for a proof of another shape.
 */
async function fetchProof(target: CheckedPiece, start: number, end: number): Promise<RangeProof> {
  const response = await getRangeProof(target.provider, target.pieceCid, start, end - start);
  const { height } = pieceGeometry(target.payloadSize);
  const firstLeaf = (start / QUAD_PAYLOAD_BYTES) * 4;
  const leafCount = (Math.ceil(end / QUAD_PAYLOAD_BYTES) - start / QUAD_PAYLOAD_BYTES) * 4;
  const proof: RangeProof = {
    firstLeaf,
    leafCount,
    left: response.left.map((n) => (n ? Buffer.from(n.slice(2), "hex") : undefined)),
    right: response.right.map((n) => (n ? Buffer.from(n.slice(2), "hex") : undefined)),
  };
  const needed = rangeProofShape(firstLeaf, leafCount, height);
  const shaped =
    needed.left.every((index, level) => index < 0 || proof.left[level]) &&
    needed.right.every((index, level) => index < 0 || proof.right[level]) &&
    response.firstLeaf === firstLeaf &&
    response.leafCount === leafCount &&
    response.height === height &&
    proof.left.length === height &&
    proof.right.length === height;
  if (!shaped) {
    throw new PieceCommitmentMismatchError("provider sent a range proof of another shape", {
      details: {
        provider: target.provider.address,
        pieceIndex: target.pieceIndex,
        firstLeaf: `${response.firstLeaf} (expected ${firstLeaf})`,
        leafCount: `${response.leafCount} (expected ${leafCount})`,
        height: `${response.height} (expected ${height})`,
      },
    });
  }
  return proof;
}

function mismatch(target: CheckedPiece, chunk: number, expected: string, actual: string): PieceCommitmentMismatchError {
  return new PieceCommitmentMismatchError("piece bytes do not match the commitment", {
    details: {
      provider: target.provider.address,
      pieceIndex: target.pieceIndex,
      pieceCid: target.pieceCid,
      chunk,
      expected,
      actual,
    },
  });
}
