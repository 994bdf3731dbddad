import { toHex, type Address, type Hex } from "viem";
import { RepairMarketError } from "../../core/errors";
import { httpCall } from "../../core/http-client";
import { CHUNK_LOG2_LEAVES, CHUNK_PAYLOAD_BYTES } from "../../piece/constants";
import { ChunkRootHasher, CommPHasher, pieceGeometry } from "../../piece/commp";
import { PieceTreeCache } from "../../piece/piece-proof";
import { PROVIDER_PATHS } from "../../protocol/provider-api";
import type { ErasurePool } from "../../erasure/erasure-pool";

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
 * are checked against the piece commitment first. With `pool`, chunks are hashed on its workers.
 *
 * @throws PieceCommitmentMismatchError (malformed chunk roots, or roots that do not lead to the
 *   commitment), PeerUnreachableError, PeerRejectedError.
 */
export async function chunkVerifierFor(target: CheckedPiece, pool?: ErasurePool): Promise<ChunkVerifier> {
  return new ChunkVerifier(target, await verifiedChunkRoots(target), pool);
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
 * Chunk checks one pooled verifier keeps on the workers at once: each holds its chunk's buffer
 * (1,040,384 bytes), and bytes received past the last checked chunk are not yet known good.
 */
const MAX_CHECKS_IN_FLIGHT = 3;

/** A chunk sent to the pool to be hashed. */
interface PendingCheck {
  chunkIndex: number;
  /** Payload offset just past the chunk. */
  end: number;
  /** Settles (never rejects) once `root` or `error` is set. */
  done: Promise<void>;
  settled: boolean;
  root?: Uint8Array;
  error?: unknown;
}

/**
 * Checks a piece chunk by chunk while it streams in: each 1,040,384-byte chunk's subtree root
 * (the last chunk zero-padded) must equal the verified chunk root; a piece of one chunk or less is
 * checked whole at its end. With a pool, each complete chunk is hashed on a worker (at most
 * {@link MAX_CHECKS_IN_FLIGHT} at once, in order of completion), so the event loop that receives
 * the bytes does not hash them (decision 47); without, on the caller's thread.
 */
export class ChunkVerifier {
  private buffer: Uint8Array;
  private filled = 0;
  private chunkIndex = 0;
  private verifiedTo = 0;
  private hasher: ChunkRootHasher | undefined;
  private readonly pending: PendingCheck[] = [];
  private readonly spare: ArrayBuffer[] = [];

  constructor(
    private readonly target: CheckedPiece,
    private readonly chunkRoots: Uint8Array[] | undefined,
    private readonly pool?: ErasurePool,
  ) {
    this.buffer = this.newBuffer();
  }

  /** Starts at `offset`, a chunk boundary (where a resumed fetch picks up). */
  startAt(offset: number): this {
    this.chunkIndex = Math.floor(offset / CHUNK_PAYLOAD_BYTES);
    this.verifiedTo = this.chunkIndex * CHUNK_PAYLOAD_BYTES;
    this.filled = 0;
    return this;
  }

  /**
   * Takes the next bytes of the piece; resolves to the offset up to which it is verified. With a
   * pool, checks of the last chunks may still be running: {@link settle} waits for them.
   *
   * @throws PieceCommitmentMismatchError, or the pool's error.
   */
  async push(bytes: Buffer): Promise<number> {
    let consumed = 0;
    while (consumed < bytes.length) {
      const chunkStart = this.chunkIndex * CHUNK_PAYLOAD_BYTES;
      if (chunkStart >= this.target.payloadSize) {
        throw new PieceCommitmentMismatchError("provider sent more bytes than the piece holds", {
          details: {
            provider: this.target.provider.address,
            pieceIndex: this.target.pieceIndex,
            pieceCid: this.target.pieceCid,
            chunk: this.chunkIndex,
            payloadSize: this.target.payloadSize,
          },
        });
      }
      const chunkLength = Math.min(CHUNK_PAYLOAD_BYTES, this.target.payloadSize - chunkStart);
      const take = Math.min(chunkLength - this.filled, bytes.length - consumed);
      bytes.copy(this.buffer, this.filled, consumed, consumed + take);
      this.filled += take;
      consumed += take;
      if (this.filled === chunkLength) {
        this.complete(chunkLength);
        this.chunkIndex++;
        this.filled = 0;
      }
      while (this.pending.length > 0 && (this.pending[0].settled || this.pending.length >= MAX_CHECKS_IN_FLIGHT)) {
        await this.settleOldest();
      }
    }
    return this.verifiedTo;
  }

  /**
   * Waits for every chunk check still running; resolves to the offset verified.
   *
   * @throws PieceCommitmentMismatchError, or the pool's error.
   */
  async settle(): Promise<number> {
    while (this.pending.length > 0) await this.settleOldest();
    return this.verifiedTo;
  }

  /** The chunk in `buffer` (`length` bytes) is complete: checks it here, or sends it to the pool. */
  private complete(length: number): void {
    const chunkIndex = this.chunkIndex;
    const end = chunkIndex * CHUNK_PAYLOAD_BYTES + length;
    if (!this.pool || !this.chunkRoots) {
      this.check(chunkIndex, this.rootHere(this.buffer.subarray(0, length)));
      this.verifiedTo = end;
      return;
    }
    const check: PendingCheck = { chunkIndex, end, settled: false, done: Promise.resolve() };
    check.done = this.pool.chunkRoot(this.buffer.buffer as ArrayBuffer, length).then(
      ({ root, data }) => {
        check.root = root;
        check.settled = true;
        this.spare.push(data);
      },
      (error: unknown) => {
        check.error = error;
        check.settled = true;
      },
    );
    this.pending.push(check);
    this.buffer = this.newBuffer(); // the old one now belongs to the worker
  }

  private async settleOldest(): Promise<void> {
    const check = this.pending[0];
    await check.done;
    this.pending.shift();
    if (check.error !== undefined) throw check.error;
    this.check(check.chunkIndex, check.root as Uint8Array);
    this.verifiedTo = check.end;
  }

  private rootHere(chunk: Uint8Array): Uint8Array {
    if (!this.chunkRoots) return new CommPHasher().update(chunk).digest().root;
    this.hasher ??= new ChunkRootHasher();
    return this.hasher.root(chunk);
  }

  private newBuffer(): Uint8Array {
    const spare = this.spare.pop();
    return new Uint8Array(spare ?? new ArrayBuffer(Math.min(CHUNK_PAYLOAD_BYTES, this.target.payloadSize)));
  }

  /** @throws PieceCommitmentMismatchError when `actual` is not chunk `chunkIndex`'s root. */
  private check(chunkIndex: number, actual: Uint8Array): void {
    const expected = this.chunkRoots ? this.chunkRoots[chunkIndex] : Buffer.from(this.target.root.slice(2), "hex");
    if (!expected || toHex(actual) !== toHex(expected)) {
      throw new PieceCommitmentMismatchError("piece bytes do not match the commitment", {
        details: {
          provider: this.target.provider.address,
          pieceIndex: this.target.pieceIndex,
          pieceCid: this.target.pieceCid,
          chunk: chunkIndex,
          expected: expected ? toHex(expected) : "none",
          actual: toHex(actual),
        },
      });
    }
  }
}
