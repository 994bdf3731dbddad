import { InvalidArgumentError, RepairMarketError } from "../../core/errors";
import type { PieceSpan } from "./span-verifier";

/**
 * Where the bytes of a file range live in the pieces (DESIGN.md's systematic layout: stripe s is
 * k shares of `shareSize` bytes; file bytes [s·k·shareSize + i·shareSize, … + shareSize) are data
 * piece i's payload bytes [s·shareSize, (s + 1)·shareSize)), and the interval sums the range
 * retriever plans with. Pure functions; offsets and lengths in bytes.
 */

/** Bytes START through END of a file, both included (`--range START-END`). */
export interface ByteRange {
  start: number;
  end: number;
}

/** The range asked for is not inside the file. */
export class RangeOutsideFileError extends RepairMarketError {
  override name = "RangeOutsideFileError" as const;
}

/** A run of file bytes inside one share: file offset, data piece, payload offset in it, length. */
export interface ShareRun {
  fileOffset: number;
  piece: number;
  pieceOffset: number;
  length: number;
}

/**
 * Parses `START-END` (decimal, inclusive, START ≤ END).
 *
 * @throws InvalidArgumentError naming the expected form.
 */
export function parseByteRange(text: string): ByteRange {
  const match = /^(\d{1,16})-(\d{1,16})$/.exec(text.trim());
  const range = match ? { start: Number(match[1]), end: Number(match[2]) } : undefined;
  if (!range || !Number.isSafeInteger(range.end) || range.start > range.end) {
    throw new InvalidArgumentError(`--range "${text}" is not START-END (bytes, inclusive, START ≤ END): e.g. 0-1023`);
  }
  return range;
}

/**
 * Checks that `range` lies inside a file of `fileSize` bytes.
 *
 * @throws RangeOutsideFileError in one line naming the range and the file's size.
 */
export function checkRange(range: ByteRange, fileSize: number): void {
  if (range.start <= range.end && range.end < fileSize) return;
  throw new RangeOutsideFileError(
    `range ${range.start}-${range.end} is outside the file, which has ${fileSize} bytes (0-${fileSize - 1})`,
    { details: { start: range.start, end: range.end, fileSize } },
  );
}

/**
 * The file range's bytes in file order, cut at share boundaries.
 *
 * @param k Data shares per stripe. @param shareSize Bytes per share.
 */
export function shareRuns(k: number, shareSize: number, range: ByteRange): ShareRun[] {
  const runs: ShareRun[] = [];
  const stripeBytes = k * shareSize;
  for (let at = range.start; at <= range.end;) {
    const stripe = Math.floor(at / stripeBytes);
    const piece = Math.floor((at - stripe * stripeBytes) / shareSize);
    const inShare = at - stripe * stripeBytes - piece * shareSize;
    const length = Math.min(shareSize - inShare, range.end + 1 - at);
    runs.push({ fileOffset: at, piece, pieceOffset: stripe * shareSize + inShare, length });
    at += length;
  }
  return runs;
}

/**
 * Each data piece's payload bytes that the range needs: one span per piece (the range's bytes in
 * a piece are contiguous in it), undefined for a piece the range does not touch.
 *
 * @returns k entries, by data piece index.
 */
export function dataSpans(k: number, shareSize: number, range: ByteRange): (PieceSpan | undefined)[] {
  const spans: (PieceSpan | undefined)[] = Array.from({ length: k }, () => undefined);
  for (const run of shareRuns(k, shareSize, range)) {
    const span = spans[run.piece];
    spans[run.piece] = {
      start: span?.start ?? run.pieceOffset,
      end: run.pieceOffset + run.length,
    };
  }
  return spans;
}

/** Spans sorted and merged where they overlap or touch. */
export function mergeSpans(spans: PieceSpan[]): PieceSpan[] {
  const sorted = [...spans].filter((s) => s.end > s.start).sort((a, b) => a.start - b.start);
  const merged: PieceSpan[] = [];
  for (const span of sorted) {
    const last = merged[merged.length - 1];
    if (last && span.start <= last.end) last.end = Math.max(last.end, span.end);
    else merged.push({ ...span });
  }
  return merged;
}

/** The parts of `wanted` that no span of `have` covers, in order. */
export function missingSpans(wanted: PieceSpan[], have: PieceSpan[]): PieceSpan[] {
  const covered = mergeSpans(have);
  const out: PieceSpan[] = [];
  for (const want of mergeSpans(wanted)) {
    let at = want.start;
    for (const c of covered) {
      if (c.end <= at || c.start >= want.end) continue;
      if (c.start > at) out.push({ start: at, end: c.start });
      at = Math.max(at, c.end);
    }
    if (at < want.end) out.push({ start: at, end: want.end });
  }
  return out;
}
