import { createHash } from "node:crypto";
import { mkdir, open, stat, writeFile, type FileHandle } from "node:fs/promises";
import { basename, join } from "node:path";
import { toHex, type Hex } from "viem";
import { defaultShareSize, fileLayout, isClayShareSize, type FileLayout } from "../erasure/layout";
import { clayParamsOf, type FileCoding } from "../erasure/coding";
import type { ErasurePool } from "../erasure/erasure-pool";
import { InvalidArgumentError } from "../core/errors";
import { manifestDroot, type Manifest } from "./manifest";

/** Target bytes of file read per encode job. */
const BATCH_BYTES = 4 << 20;

/** A file turned into pieces on disk. */
export interface PreparedFile {
  manifest: Manifest;
  /** Piece i's payload file. */
  piecePaths: string[];
  /** Piece i's 2^15-leaf chunk roots (32 bytes each), the prover's tree cache. */
  chunkRoots: Uint8Array[];
  layout: FileLayout;
}

/** Options of {@link prepareFile}. */
export interface PrepareOptions {
  k: number;
  m: number;
  /**
   * The erasure code: undefined (default) for Reed–Solomon, `{ scheme: "clay", d }` for Clay
   * (the manifest then carries it, and its droot the v2 file leaf).
   */
  coding?: FileCoding;
  /** Bytes per share; default {@link defaultShareSize} (for Clay it must be alpha · 127 · 2^j). */
  shareSize?: number;
  /** Directory receiving `piece-<i>` files and `manifest.json` (created). */
  outDir: string;
  pool: ErasurePool;
  /** Called with file bytes processed so far and the total. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Erasure-codes a file into k + m pieces, computes every piece's CommP and the droot, and writes
 * the pieces and `manifest.json` to `outDir` — streaming, so memory stays at a few batches of
 * ~4 MiB whatever the file size. Encoding and hashing run on the pool's worker threads.
 *
 * @throws InvalidArgumentError for bad coding parameters (Clay: a share size that is not
 * alpha · 127 · 2^j) or an empty file (docs/decisions.md 22);
 * file system errors as they come.
 */
export async function prepareFile(filePath: string, options: PrepareOptions): Promise<PreparedFile> {
  const { k, m, pool } = options;
  const { size: fileSize } = await stat(filePath);
  if (fileSize === 0) throw emptyFileError(filePath);
  const { coding } = options;
  const shareSize = options.shareSize ?? defaultShareSize(fileSize, k, m, coding);
  if (coding && !isClayShareSize(shareSize, clayParamsOf(k, m, coding).alpha)) {
    throw new InvalidArgumentError("a Clay share must be alpha sub-chunks of 127 · 2^j bytes", {
      details: { shareSize, k, m, d: coding.d, alpha: clayParamsOf(k, m, coding).alpha },
    });
  }
  const layout = fileLayout(fileSize, k, m, shareSize);
  const n = k + m;
  const stripesPerBatch = Math.max(1, Math.floor(BATCH_BYTES / (k * shareSize)));
  const batches = Math.ceil(layout.stripes / stripesPerBatch);
  await mkdir(options.outDir, { recursive: true });
  const piecePaths = Array.from({ length: n }, (_, i) => join(options.outDir, `piece-${i}`));
  const hasherKeys = piecePaths.map((p) => `${p}#${Math.random()}`);
  await Promise.all(hasherKeys.map((key) => pool.hashStart(key)));
  const input = await open(filePath, "r");
  const outputs = await Promise.all(piecePaths.map((p) => open(p, "w")));
  const sha = createHash("sha256");
  try {
    const inFlight: Promise<Uint8Array[]>[] = [];
    let readDone = 0;
    const maxInFlight = pool.size * 2;
    let next = 0;
    for (let batch = 0; batch < batches; batch++) {
      while (next < batches && inFlight.length < maxInFlight) {
        const stripes = Math.min(stripesPerBatch, layout.stripes - next * stripesPerBatch);
        const offset = next * stripesPerBatch * k * shareSize;
        const bytes = await readAt(input, offset, stripes * k * shareSize);
        // The tail of the last batch is zero padding, not file content.
        const real = Math.max(0, Math.min(bytes.length, fileSize - offset));
        sha.update(bytes.subarray(0, real));
        readDone += real;
        inFlight.push(pool.encode(k, m, shareSize, stripes, bytes, coding));
        next++;
      }
      const chunks = await (inFlight.shift() as Promise<Uint8Array[]>);
      const offset = batch * stripesPerBatch * shareSize;
      await Promise.all(chunks.map((chunk, i) => outputs[i].write(chunk, 0, chunk.length, offset)));
      chunks.forEach((chunk, i) => pool.hashUpdate(hasherKeys[i], chunk));
      options.onProgress?.(readDone, fileSize);
    }
    await Promise.all(outputs.map((o) => o.sync()));
  } finally {
    await input.close();
    await Promise.all(outputs.map((o) => o.close()));
  }
  const digests = await Promise.all(hasherKeys.map((key) => pool.hashDigest(key)));
  const manifestBody = {
    version: 1 as const,
    fileSize,
    fileSha256: `0x${sha.digest("hex")}` as Hex,
    k,
    m,
    shareSize,
    ...(coding ? { coding } : {}),
    pieces: digests.map((d) => ({
      pieceCid: d.pieceCid,
      root: toHex(d.root),
      paddedSize: d.paddedSize,
      payloadSize: d.payloadSize,
    })),
    name: basename(filePath),
  };
  const manifest: Manifest = { ...manifestBody, droot: manifestDroot(manifestBody).root };
  await writeFile(join(options.outDir, "manifest.json"), JSON.stringify(manifest, null, 2));
  return { manifest, piecePaths, chunkRoots: digests.map((d) => d.chunkRoots), layout };
}

/** Reads `length` bytes at `offset`; zero-fills past the end of the file. */
export async function readAt(handle: FileHandle, offset: number, length: number): Promise<Uint8Array> {
  const buffer = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, offset + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buffer;
}

/**
 * The error for a file of 0 bytes: there is nothing to store or prove, and an empty piece shares
 * its commitment with every all-zero piece (docs/decisions.md 22).
 */
export function emptyFileError(filePath: string): InvalidArgumentError {
  return new InvalidArgumentError(`${filePath} is empty (0 bytes): there is nothing to store`, {
    details: { file: filePath, hint: "store a file of at least one byte" },
  });
}

/**
 * @throws InvalidArgumentError (see {@link emptyFileError}) when the file has 0 bytes.
 */
export async function assertNotEmpty(filePath: string): Promise<void> {
  if ((await stat(filePath)).size === 0) throw emptyFileError(filePath);
}
