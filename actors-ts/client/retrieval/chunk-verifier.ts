import { toHex, type Address, type Hex } from "viem";
import { RepairMarketError } from "../../core/errors";
import { httpCall } from "../../core/http-client";
import { CHUNK_LOG2_LEAVES, CHUNK_PAYLOAD_BYTES } from "../../piece/constants";
import { ChunkRootHasher, CommPHasher, pieceGeometry } from "../../piece/commp";
import { PieceTreeCache } from "../../piece/piece-proof";
import { PROVIDER_PATHS } from "../../protocol/provider-api";

/** Bytes from a provider do not match the piece commitment (seed 003: evidence of cheating). */
export class PieceCommitmentMismatchError extends RepairMarketError {
  override name = "PieceCommitmentMismatchError" as const;
}

/** The piece being checked and who serves it. */
export interface CheckedPiece {
  provider: { address: Address; endpoint: string };
  pieceIndex: number;
  /** PieceCID v2. */
  pieceCid: string;
  /** CommP root. */
  root: Hex;
  payloadSize: number;
}

/**
 * A {@link ChunkVerifier} for `target`: a piece of one chunk or less is checked whole; a larger
 * one against the chunk roots the provider serves (free, `GET /pieces/:pieceCid/tree`), which
 * are checked against the piece commitment first.
 *
 * @throws PieceCommitmentMismatchError (malformed chunk roots, or roots that do not lead to the
 *   commitment), PeerUnreachableError, PeerRejectedError.
 */
export async function chunkVerifierFor(target: CheckedPiece): Promise<ChunkVerifier> {
  return new ChunkVerifier(target, await verifiedChunkRoots(target));
}

/**
 * The roots of `target`'s 2^15-leaf chunks (1,040,384 payload bytes each, the last zero-padded),
 * fetched from its provider (`GET /pieces/:pieceCid/tree`) and checked against the piece
 * commitment; undefined for a piece of one chunk or less, whose root is the commitment itself.
 *
 * @throws PieceCommitmentMismatchError (malformed chunk roots, or roots that do not lead to the
 *   commitment), PeerUnreachableError, PeerRejectedError.
 */
export async function verifiedChunkRoots(target: CheckedPiece): Promise<Uint8Array[] | undefined> {
  const { height } = pieceGeometry(target.payloadSize);
  if (height <= CHUNK_LOG2_LEAVES) return undefined;
  const response = await httpCall(
    { method: "GET", url: target.provider.endpoint + PROVIDER_PATHS.pieceTree(target.pieceCid) },
    { peer: target.provider.address, stage: `fetch chunk roots of piece ${target.pieceIndex}` },
  );
  const bytes = new Uint8Array(await response.body.arrayBuffer());
  let cache: PieceTreeCache;
  try {
    cache = PieceTreeCache.deserialize(bytes, height);
  } catch (cause) {
    throw new PieceCommitmentMismatchError("provider sent malformed chunk roots", {
      details: { provider: target.provider.address, pieceIndex: target.pieceIndex },
      cause,
    });
  }
  if (toHex(cache.root) !== target.root.toLowerCase()) {
    throw new PieceCommitmentMismatchError("provider's chunk roots do not lead to the piece commitment", {
      details: {
        provider: target.provider.address,
        pieceIndex: target.pieceIndex,
        expected: target.root,
        actual: toHex(cache.root),
      },
    });
  }
  return cache.chunkRoots;
}

/**
 * Checks a piece chunk by chunk while it streams in: each 1,040,384-byte chunk's subtree root
 * (the last chunk zero-padded) must equal the verified chunk root; a piece of one chunk or less is
 * checked whole at its end.
 */
export class ChunkVerifier {
  private buffer: Buffer;
  private filled = 0;
  private chunkIndex = 0;
  private readonly hasher = new ChunkRootHasher();

  constructor(
    private readonly target: CheckedPiece,
    private readonly chunkRoots: Uint8Array[] | undefined,
  ) {
    this.buffer = Buffer.alloc(Math.min(CHUNK_PAYLOAD_BYTES, target.payloadSize));
  }

  /** Starts at `offset`, a chunk boundary (where a resumed fetch picks up). */
  startAt(offset: number): this {
    this.chunkIndex = Math.floor(offset / CHUNK_PAYLOAD_BYTES);
    this.filled = 0;
    return this;
  }

  /**
   * Takes the next bytes of the piece; returns the offset up to which it is verified.
   *
   * @throws PieceCommitmentMismatchError
   */
  push(bytes: Buffer): number {
    let consumed = 0;
    let verifiedTo = this.chunkIndex * CHUNK_PAYLOAD_BYTES;
    while (consumed < bytes.length) {
      const chunkStart = this.chunkIndex * CHUNK_PAYLOAD_BYTES;
      const chunkLength = Math.min(CHUNK_PAYLOAD_BYTES, this.target.payloadSize - chunkStart);
      const take = Math.min(chunkLength - this.filled, bytes.length - consumed);
      bytes.copy(this.buffer, this.filled, consumed, consumed + take);
      this.filled += take;
      consumed += take;
      if (this.filled === chunkLength) {
        this.check(this.buffer.subarray(0, chunkLength));
        verifiedTo = chunkStart + chunkLength;
        this.chunkIndex++;
        this.filled = 0;
      }
    }
    return verifiedTo;
  }

  private check(chunk: Uint8Array): void {
    let actual: Uint8Array;
    let expected: Uint8Array;
    if (!this.chunkRoots) {
      actual = new CommPHasher().update(chunk).digest().root;
      expected = Buffer.from(this.target.root.slice(2), "hex");
    } else {
      actual = this.hasher.root(chunk);
      expected = this.chunkRoots[this.chunkIndex];
    }
    if (!expected || toHex(actual) !== toHex(expected)) {
      throw new PieceCommitmentMismatchError("piece bytes do not match the commitment", {
        details: {
          provider: this.target.provider.address,
          pieceIndex: this.target.pieceIndex,
          pieceCid: this.target.pieceCid,
          chunk: this.chunkIndex,
          expected: expected ? toHex(expected) : "none",
          actual: toHex(actual),
        },
      });
    }
  }
}
