import { open } from "node:fs/promises";
import type { ByteSink } from "../../core/byte-sink";
import { InvalidStateError } from "../../core/errors";
import type { ErasurePool } from "../../erasure/erasure-pool";
import type { Manifest } from "../../manifest/manifest";
import { readAt } from "../../manifest/prepare";
import type { RangeFetchRun } from "./range-fetch-run";
import { shareRuns, type ByteRange } from "./range-plan";

/** Most bytes read, decoded and written at once. */
const BLOCK_BYTES = 1 << 20;

/** What {@link writeRange} writes and where. */
export interface RangeWrite {
  manifest: Manifest;
  range: ByteRange;
  pool: ErasurePool;
  sink: ByteSink;
  /** Called after each write with the range's bytes written so far. */
  onWritten?: (written: number) => void;
}

/**
 * The writing half of a byte-range retrieval: walks the range in file order, share by share, and
 * writes each block (at most 1 MiB) as soon as its bytes are verified — read from the data
 * piece's span, or, for a data piece whose holders all failed, decoded from the same payload
 * offsets of k other pieces on the pool (for a Clay file, from those pieces' whole shares of the
 * stripe, which the fetch run widens its spans to). Never holds more than a block per piece.
 *
 * @returns The data pieces whose bytes were decoded.
 * @throws what the fetch run throws (NotEnoughPiecesError), and the sink's write errors.
 */
export async function writeRange(run: RangeFetchRun, w: RangeWrite): Promise<number[]> {
  const { k, shareSize } = w.manifest;
  const decoded = new Set<number>();
  let written = 0;
  for (const share of shareRuns(k, shareSize, w.range)) {
    for (let done = 0; done < share.length;) {
      const at = share.pieceOffset + done;
      const bytes = await readBlock(run, w, share.piece, at, Math.min(BLOCK_BYTES, share.length - done), decoded);
      await w.sink.write(bytes);
      done += bytes.length;
      written += bytes.length;
      w.onWritten?.(written);
    }
  }
  return [...decoded].sort((a, b) => a - b);
}

/** Up to `want` verified bytes of data piece `index` from payload offset `at`, waiting for them. */
async function readBlock(
  run: RangeFetchRun,
  w: RangeWrite,
  index: number,
  at: number,
  want: number,
  decoded: Set<number>,
): Promise<Uint8Array> {
  for (;;) {
    const direct = run.covering(index, at);
    if (direct) return readFileAt(direct.path, at, Math.min(want, direct.upTo - at));
    if (run.isDead(index) && w.manifest.coding) {
      const bytes = await decodeClayBlock(run, w, index, at, want);
      if (bytes) {
        decoded.add(index);
        return bytes;
      }
    } else if (run.isDead(index)) {
      const sources = w.manifest.pieces
        .map((_, i) => ({ i, covered: i === index ? undefined : run.covering(i, at) }))
        .filter((s) => s.covered !== undefined)
        .slice(0, w.manifest.k);
      if (sources.length === w.manifest.k) {
        decoded.add(index);
        const length = Math.min(want, ...sources.map((s) => (s.covered?.upTo ?? at) - at));
        return decodeBlock(w, index, at, length, sources);
      }
    }
    await run.changed();
  }
}

/** Rebuilds `length` bytes of piece `index` at `at` from the same bytes of k other pieces. */
async function decodeBlock(
  w: RangeWrite,
  index: number,
  at: number,
  length: number,
  sources: { i: number; covered?: { path: string } }[],
): Promise<Uint8Array> {
  const { k, m } = w.manifest;
  const shares: (Uint8Array | null)[] = Array.from({ length: k + m }, () => null);
  for (const s of sources) if (s.covered) shares[s.i] = await readFileAt(s.covered.path, at, length);
  // Byte t of every share of a stripe depends only on byte t of the others: `length` bytes at the
  // same offset of k pieces are a stripe of shares `length` bytes long.
  const [rebuilt] = await w.pool.reconstruct(k, m, length, 1, shares, [index]);
  return rebuilt;
}

/**
 * A Clay file's bytes [at, at + want) of dead data piece `index` (inside one share), decoded from
 * the whole share of that stripe in k other pieces once they are verified; undefined until then.
 */
async function decodeClayBlock(
  run: RangeFetchRun,
  w: RangeWrite,
  index: number,
  at: number,
  want: number,
): Promise<Uint8Array | undefined> {
  const { k, m, shareSize, coding } = w.manifest;
  const stripeStart = Math.floor(at / shareSize) * shareSize;
  const stripeEnd = stripeStart + shareSize;
  const sources = w.manifest.pieces
    .map((_, i) => i)
    .filter((i) => i !== index && coveredTo(run, i, stripeStart) >= stripeEnd)
    .slice(0, k);
  if (sources.length < k) return undefined;
  const shares: (Uint8Array | null)[] = Array.from({ length: k + m }, () => null);
  for (const i of sources) shares[i] = await readCovered(run, i, stripeStart, stripeEnd);
  const [rebuilt] = await w.pool.reconstruct(k, m, shareSize, 1, shares, [index], coding);
  return rebuilt.subarray(at - stripeStart, Math.min(stripeEnd, at + want) - stripeStart);
}

/** How far from `from` piece `index`'s verified bytes run without a gap (possibly over several fetches). */
function coveredTo(run: RangeFetchRun, index: number, from: number): number {
  let at = from;
  for (let c = run.covering(index, at); c && c.upTo > at; c = run.covering(index, at)) at = c.upTo;
  return at;
}

/** Piece `index`'s verified bytes [from, to), read across the fetches' files that hold them. */
async function readCovered(run: RangeFetchRun, index: number, from: number, to: number): Promise<Uint8Array> {
  const out = new Uint8Array(to - from);
  for (let at = from; at < to;) {
    const c = run.covering(index, at);
    if (!c) throw new InvalidStateError("range bytes vanished while decoding", { details: { index, at } });
    const length = Math.min(c.upTo, to) - at;
    out.set(await readFileAt(c.path, at, length), at - from);
    at += length;
  }
  return out;
}

async function readFileAt(path: string, at: number, length: number): Promise<Uint8Array> {
  const handle = await open(path, "r");
  try {
    return await readAt(handle, at, length);
  } finally {
    await handle.close();
  }
}
