import { randomBytes } from "node:crypto";
import { open, type FileHandle } from "node:fs/promises";
import type { Hex } from "viem";
import type { ByteSink } from "../core/byte-sink";
import { fileLayout } from "../erasure/layout";
import type { ErasurePool } from "../erasure/erasure-pool";
import type { Manifest } from "./manifest";
import { readAt } from "./prepare";
import { RepairMarketError } from "../core/errors";

/** Stripes are read, rebuilt and written about this many bytes of file at a time. */
const BATCH_BYTES = 4 << 20;

/**
 * How far each piece of a file has been verified against its commitment, as fetches report it:
 * for each piece index, the payload files holding a verified prefix of it and that prefix's
 * length in bytes (a piece fetched again from another holder lands in another file; the longest
 * prefix wins). {@link decodeWhileVerified} waits on it.
 */
export class VerifiedPieces {
  private readonly prefixes: Map<string, number>[];
  private waiters: (() => void)[] = [];
  private ended: { error?: unknown } | undefined;

  /** @param pieces n = k + m, the file's piece count. */
  constructor(pieces: number) {
    this.prefixes = Array.from({ length: pieces }, () => new Map<string, number>());
  }

  /**
   * Bytes [0, verifiedTo) of piece `index` in the payload file `path` are on disk and match the
   * piece's commitment. Prefixes only grow; a smaller figure is ignored.
   */
  mark(index: number, path: string, verifiedTo: number): void {
    const prefixes = this.prefixes[index];
    if ((prefixes.get(path) ?? 0) >= verifiedTo) return;
    prefixes.set(path, verifiedTo);
    this.wake();
  }

  /**
   * No more marks will come: the fetches are over. With `error`, they failed and a waiting
   * decoder stops with that error; without, it finishes with what is marked or says what is
   * missing.
   */
  end(error?: unknown): void {
    this.ended ??= error === undefined ? {} : { error };
    this.wake();
  }

  /** The longest verified prefix of piece `index`: its file and length (0 bytes when none). */
  best(index: number): { path?: string; verifiedTo: number } {
    let best: { path?: string; verifiedTo: number } = { verifiedTo: 0 };
    for (const [path, verifiedTo] of this.prefixes[index]) {
      if (verifiedTo > best.verifiedTo) best = { path, verifiedTo };
    }
    return best;
  }

  /** Resolves on the next mark or end (at once if already ended). */
  changed(): Promise<void> {
    if (this.ended) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Whether {@link end} was called, and with what. */
  get endState(): { error?: unknown } | undefined {
    return this.ended;
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

/** The rebuilt file's SHA-256 is not the manifest's. */
export class FileHashMismatchError extends RepairMarketError {
  override name = "FileHashMismatchError" as const;
}

/** The pieces' fetches ended without k pieces verified far enough to finish the file. */
export class PiecesEndedEarlyError extends RepairMarketError {
  override name = "PiecesEndedEarlyError" as const;
}

/**
 * Rebuilds a file into `sink` in file order **while its pieces are still being fetched**: every
 * batch of stripes (about 4 MiB of file) is written as soon as k pieces are verified past it —
 * the data pieces when they are (no decoding), otherwise any k, the missing data shares rebuilt
 * on the pool with the manifest's code (Reed–Solomon, or Clay over whole stripes). So the first
 * bytes reach a stream while the fetch runs, and decoding overlaps the transfer instead of
 * following it. Pieces are read back from their payload
 * files (the page cache, just written); nothing beyond one batch is held in memory.
 *
 * The bytes' SHA-256 is checked against the manifest's once all are written: the caller commits a
 * file sink only then; a stream has already received them (each share was checked against its
 * piece commitment before it was read).
 *
 * @param verified Fed by the fetches ({@link VerifiedPieces.mark}), ended when they are over.
 * @param onProgress Called after each batch with (file bytes written, file size).
 * @throws The error {@link VerifiedPieces.end} was given, when the fetches failed first.
 * @throws PiecesEndedEarlyError when the fetches ended cleanly without k pieces verified to the end.
 * @throws FileHashMismatchError when the rebuilt bytes do not hash to `fileSha256`.
 */
export async function decodeWhileVerified(
  manifest: Manifest,
  verified: VerifiedPieces,
  sink: ByteSink,
  pool: ErasurePool,
  onProgress?: (done: number, total: number) => void,
): Promise<void> {
  const { k, m, shareSize } = manifest;
  const layout = fileLayout(manifest.fileSize, k, m, shareSize);
  const stripesPerBatch = Math.max(1, Math.floor(BATCH_BYTES / (k * shareSize)));
  const handles = new Map<string, FileHandle>();
  const sha = await PooledSha256.start(pool);
  let written = 0;
  let first = 0;
  try {
    while (first < layout.stripes) {
      const chosen = chooseSources(verified, k, m, shareSize, first);
      if (!chosen) {
        const ended = verified.endState;
        if (ended?.error !== undefined) throw ended.error;
        if (ended) {
          throw new PiecesEndedEarlyError("the piece fetches ended before k pieces were verified to the end", {
            details: { k, stripe: first, stripes: layout.stripes, droot: manifest.droot },
          });
        }
        await verified.changed();
        continue;
      }
      const stripes = Math.min(stripesPerBatch, chosen.stripesReady - first);
      const shares: (Uint8Array | null)[] = Array.from({ length: k + m }, () => null);
      for (const [index, path] of chosen.sources) {
        let handle = handles.get(path);
        if (!handle) {
          handle = await open(path, "r");
          handles.set(path, handle);
        }
        shares[index] = await readAt(handle, first * shareSize, stripes * shareSize);
      }
      const missingData = Array.from({ length: k }, (_, i) => i).filter((i) => !chosen.sources.has(i));
      if (missingData.length > 0) {
        // The pool takes ownership of what it is given: hand it copies, keep the originals.
        const copies = shares.map((share) => (share ? share.slice() : null));
        const rebuilt = await pool.reconstruct(k, m, shareSize, stripes, copies, missingData, manifest.coding);
        missingData.forEach((i, j) => (shares[i] = rebuilt[j]));
      }
      const out: Uint8Array[] = [];
      for (let s = 0; s < stripes && written < manifest.fileSize; s++) {
        for (let i = 0; i < k && written < manifest.fileSize; i++) {
          const take = Math.min(shareSize, manifest.fileSize - written);
          out.push((shares[i] as Uint8Array).subarray(s * shareSize, s * shareSize + take));
          written += take;
        }
      }
      await sha.update(out);
      if (sink.writev) await sink.writev(out);
      else for (const bytes of out) await sink.write(bytes);
      first += stripes;
      onProgress?.(written, manifest.fileSize);
    }
    const digest = await sha.digest();
    if (digest !== manifest.fileSha256) {
      throw new FileHashMismatchError("rebuilt file does not match the manifest's SHA-256", {
        details: { expected: manifest.fileSha256, actual: digest, droot: manifest.droot },
      });
    }
  } finally {
    for (const handle of handles.values()) await handle.close();
    await sha.dispose();
  }
}

/**
 * The k pieces to read stripe `first` onwards from, or undefined while fewer than k are verified
 * past it: the data pieces when all are (no decoding), else the data pieces that are and then the
 * parity pieces verified furthest. `stripesReady` is the stripe the chosen prefixes all reach.
 */
function chooseSources(
  verified: VerifiedPieces,
  k: number,
  m: number,
  shareSize: number,
  first: number,
): { sources: Map<number, string>; stripesReady: number } | undefined {
  const ready = Array.from({ length: k + m }, (_, index) => {
    const best = verified.best(index);
    return { index, path: best.path, stripes: Math.floor(best.verifiedTo / shareSize) };
  }).filter((p) => p.path !== undefined && p.stripes > first);
  if (ready.length < k) return undefined;
  const data = ready.filter((p) => p.index < k);
  const parity = ready.filter((p) => p.index >= k).sort((a, b) => b.stripes - a.stripes);
  const chosen = [...data, ...parity].slice(0, k);
  return {
    sources: new Map(chosen.map((p) => [p.index, p.path as string])),
    stripesReady: Math.min(...chosen.map((p) => p.stripes)),
  };
}

/**
 * The rebuilt file's SHA-256, computed on a pool worker (decision 47: it took about a tenth of a
 * retrieval's event loop), one batch behind the writes: at most one batch's copy is in flight.
 */
class PooledSha256 {
  private pending: Promise<void> = Promise.resolve();
  private finished = false;

  private constructor(
    private readonly pool: ErasurePool,
    private readonly key: string,
  ) {}

  static async start(pool: ErasurePool): Promise<PooledSha256> {
    const key = `file-sha256-${randomBytes(8).toString("hex")}`;
    await pool.sha256Start(key);
    return new PooledSha256(pool, key);
  }

  /** Waits for the previous batch, then sends a copy of `parts` (in order) to be hashed. */
  async update(parts: Uint8Array[]): Promise<void> {
    await this.pending;
    this.pending = this.pool.sha256Update(this.key, Buffer.concat(parts));
    this.pending.catch(() => undefined); // awaited by the next call; never an unhandled rejection
  }

  /** The digest as 0x-hex. @throws ErasureCodingError when the pool failed. */
  async digest(): Promise<Hex> {
    await this.pending;
    this.finished = true;
    return `0x${await this.pool.sha256Digest(this.key)}`;
  }

  /** Frees the worker's hash when {@link digest} was not reached (an error is already on its way). */
  async dispose(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    await this.pending.catch(() => undefined);
    await this.pool.sha256Digest(this.key).catch(() => undefined);
  }
}
