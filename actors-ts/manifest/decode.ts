import { open, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { fileSink, type ByteSink } from "../core/byte-sink";
import { InvalidArgumentError } from "../core/errors";
import { fileLayout } from "../erasure/layout";
import type { ErasurePool, PoolDigest } from "../erasure/erasure-pool";
import type { Manifest } from "./manifest";
import { VerifiedPieces, decodeWhileVerified } from "./stream-decode";
import { readAt } from "./prepare";

const BATCH_BYTES = 4 << 20;

export { FileHashMismatchError } from "./stream-decode";

/**
 * Rebuilds a file from any k of its pieces and writes it atomically (temp file, fsync, rename):
 * data pieces are interleaved directly; missing ones are rebuilt on the pool (Reed–Solomon, or
 * Clay for a manifest with that coding). The result's SHA-256 must equal the manifest's, or nothing is written.
 *
 * @param manifest The file's (verified) manifest.
 * @param piecePaths piecePaths[i] is piece i's payload file, or undefined when unavailable.
 * @param outPath Destination file.
 * @throws InvalidArgumentError with fewer than k pieces.
 * @throws FileHashMismatchError when the rebuilt bytes do not hash to `fileSha256`.
 */
export async function decodeFile(
  manifest: Manifest,
  piecePaths: (string | undefined)[],
  outPath: string,
  pool: ErasurePool,
  onProgress?: (done: number, total: number) => void,
): Promise<void> {
  assertEnoughPieces(manifest, piecePaths);
  const sink = await fileSink(outPath);
  try {
    await decodeFileTo(manifest, piecePaths, sink, pool, onProgress);
    await sink.commit();
  } catch (err) {
    await sink.abort();
    throw err;
  }
}

/**
 * Rebuilds a file from any k of its pieces into `sink`, in file order, through bounded buffers
 * (about 4 MiB of stripes at a time, whatever the file size): data pieces are interleaved
 * directly; missing ones are rebuilt on the pool (the manifest's code). The bytes' SHA-256 is checked
 * against the manifest's once all are written: a file sink then commits nothing, a stream has
 * already received them (each piece was checked against its commitment before).
 * ({@link decodeWhileVerified} with every piece already whole.)
 *
 * @param piecePaths piecePaths[i] is piece i's payload file, or undefined when unavailable.
 * @throws InvalidArgumentError with fewer than k pieces.
 * @throws FileHashMismatchError when the rebuilt bytes do not hash to `fileSha256`.
 */
export async function decodeFileTo(
  manifest: Manifest,
  piecePaths: (string | undefined)[],
  sink: ByteSink,
  pool: ErasurePool,
  onProgress?: (done: number, total: number) => void,
): Promise<void> {
  const available = assertEnoughPieces(manifest, piecePaths);
  const verified = new VerifiedPieces(manifest.k + manifest.m);
  for (const i of available) verified.mark(i, piecePaths[i] as string, manifest.pieces[i].payloadSize);
  verified.end();
  await decodeWhileVerified(manifest, verified, sink, pool, onProgress);
}

/**
 * The indices of the pieces at hand.
 *
 * @throws InvalidArgumentError with fewer than k.
 */
function assertEnoughPieces(manifest: Manifest, piecePaths: (string | undefined)[]): number[] {
  const available = piecePaths.map((p, i) => (p ? i : -1)).filter((i) => i >= 0);
  if (available.length < manifest.k) {
    throw new InvalidArgumentError("fewer than k pieces to rebuild the file from", {
      details: { k: manifest.k, available: available.length },
    });
  }
  return available;
}

/**
 * Rebuilds lost pieces from any k others (the repair; for Clay, whole stripes decoded from k whole
 * pieces, not the sub-chunk repair from d helpers), writing `piece-<i>` files into `outDir`
 * and computing each rebuilt piece's CommP on the way (seed 003: check the rebuilt commitment).
 *
 * @param piecePaths piecePaths[i] for the pieces at hand (at least k).
 * @param lost Indices to rebuild.
 * @returns For each lost index, its file and commitment (with chunk roots).
 */
export async function rebuildPieces(
  manifest: Manifest,
  piecePaths: (string | undefined)[],
  lost: number[],
  outDir: string,
  pool: ErasurePool,
): Promise<Map<number, { path: string; digest: PoolDigest }>> {
  const { k, m, shareSize } = manifest;
  const layout = fileLayout(manifest.fileSize, k, m, shareSize);
  const available = piecePaths.map((p, i) => (p ? i : -1)).filter((i) => i >= 0 && !lost.includes(i));
  if (available.length < k) {
    throw new InvalidArgumentError("fewer than k healthy pieces to rebuild from", {
      details: { k, available: available.length, lost: lost.join(",") },
    });
  }
  const chosen = available.slice(0, k);
  const stripesPerBatch = Math.max(1, Math.floor(BATCH_BYTES / (k * shareSize)));
  const inputs = new Map<number, FileHandle>();
  for (const i of chosen) inputs.set(i, await open(piecePaths[i] as string, "r"));
  const outputs = new Map<number, { handle: FileHandle; path: string; key: string }>();
  for (const i of lost) {
    const path = join(outDir, `piece-${i}`);
    const key = `${path}#${Math.random()}`;
    await pool.hashStart(key);
    outputs.set(i, { handle: await open(path, "w"), path, key });
  }
  try {
    for (let first = 0; first < layout.stripes; first += stripesPerBatch) {
      const stripes = Math.min(stripesPerBatch, layout.stripes - first);
      const shares: (Uint8Array | null)[] = Array.from({ length: k + m }, () => null);
      for (const [i, handle] of inputs) shares[i] = await readAt(handle, first * shareSize, stripes * shareSize);
      const rebuilt = await pool.reconstruct(k, m, shareSize, stripes, shares, lost, manifest.coding);
      for (const [j, i] of lost.entries()) {
        const out = outputs.get(i) as { handle: FileHandle; key: string };
        await out.handle.write(rebuilt[j], 0, rebuilt[j].length, first * shareSize);
        pool.hashUpdate(out.key, rebuilt[j]);
      }
    }
    for (const out of outputs.values()) await out.handle.sync();
  } finally {
    for (const handle of inputs.values()) await handle.close();
    for (const out of outputs.values()) await out.handle.close();
  }
  const result = new Map<number, { path: string; digest: PoolDigest }>();
  for (const [i, out] of outputs) result.set(i, { path: out.path, digest: await pool.hashDigest(out.key) });
  return result;
}
