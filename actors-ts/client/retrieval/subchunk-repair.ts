import { open } from "node:fs/promises";
import { join } from "node:path";
import type { Address, Hex } from "viem";
import { RepairMarketError } from "../../core/errors";
import type { RegisteredProvider } from "../../chain/registry/reads";
import { clayRepair, clayRepairHelpers, clayRepairPlanes } from "../../erasure/clay-repair";
import type { ClayParams } from "../../erasure/clay-core";
import { CommPHasher } from "../../piece/commp";
import { subChunkPlanGeometry, type SubChunkPlan } from "../../piece/subchunk-proof";
import { readAt } from "../../manifest/prepare";
import { PieceCommitmentMismatchError, type PieceFetcher } from "./piece-fetcher";
import { corruptPieceOf, type CorruptPiece } from "./file-retrieval";

/**
 * The bandwidth-saving repair of a regenerating-code (Clay) piece (issue 21): instead of k whole
 * pieces, d helpers each send β of their α sub-chunks per stripe (d · β / α pieces in all: 2.5 for
 * 4 + 2, 3.25 for 10 + 4), fetched as paid sub-chunk plans and checked against each helper's piece
 * commitment before use (piece/subchunk-proof.ts). A helper whose bytes do not match is recorded as
 * corrupt, with the evidence, and another holder of the same piece is tried. With fewer than d
 * healthy helpers it gives up with {@link NotEnoughHelpersError}, and the caller falls back to
 * decoding from any k whole pieces.
 */

/** Fewer than d helpers could send verified sub-chunks; decode from k whole pieces instead. */
export class NotEnoughHelpersError extends RepairMarketError {
  override name = "NotEnoughHelpersError" as const;
}

/** One piece of the file, as the manifest lists it. */
export interface RepairPiece {
  pieceCid: string;
  root: Hex;
  payloadSize: number;
}

/** What {@link rebuildFromSubChunks} is asked to do. */
export interface SubChunkRepairRequest {
  /** The ledger id the helpers' fetches are recorded under (a rerun reuses verified ones). */
  retrievalId: string;
  params: ClayParams;
  lostIndex: number;
  /** Payload bytes per share, α · subChunkSize. */
  shareSize: number;
  /** Payload bytes per sub-chunk, 127 · 2^j. */
  subChunkSize: number;
  /** The file's n pieces, by index. */
  pieces: RepairPiece[];
  /** Candidate holders per piece index, in preference order. */
  holders: Map<number, RegisteredProvider[]>;
  /** Where the helpers' streams and the rebuilt piece are written. */
  workDir: string;
}

/** What a sub-chunk repair did. */
export interface SubChunkRepairResult {
  /** The rebuilt piece's payload file; its CommP equals the lost piece's. */
  path: string;
  /** Helper bytes received, liars' included (records: sub-chunks and the other sub-chunks' roots). */
  bytesDownloaded: number;
  /** Bytes of the d plans the repair used: d · stripes · record bytes. */
  bytesUsed: number;
  helpers: { pieceIndex: number; provider: Address }[];
  corrupt: CorruptPiece[];
  failed: { pieceIndex: number; provider: Address; error: string }[];
}

/**
 * Rebuilds piece `lostIndex` from d helpers' sub-chunks, paying each helper for what it sends.
 *
 * @throws NotEnoughHelpersError (with every failure) when fewer than d helpers succeed.
 * @throws PieceCommitmentMismatchError when the rebuilt piece's CommP is not the lost piece's (a
 *   wrong manifest: every input was checked).
 */
export async function rebuildFromSubChunks(
  fetcher: PieceFetcher,
  request: SubChunkRepairRequest,
): Promise<SubChunkRepairResult> {
  const { params, lostIndex, pieces, holders } = request;
  const result: SubChunkRepairResult = {
    path: "",
    bytesDownloaded: 0,
    bytesUsed: 0,
    helpers: [],
    corrupt: [],
    failed: [],
  };
  const available = pieces.map((_, i) => i).filter((i) => i !== lostIndex && (holders.get(i) ?? []).length > 0);
  let chosen: number[];
  try {
    chosen = clayRepairHelpers(params, lostIndex, available);
  } catch (err) {
    throw notEnough(request, result, (err as Error).message);
  }
  const planes = clayRepairPlanes(params, lostIndex);
  const plan: SubChunkPlan = {
    shareSize: request.shareSize,
    subChunkSize: request.subChunkSize,
    planes,
    firstStripe: 0,
    stripes: pieces[lostIndex].payloadSize / request.shareSize,
  };
  const streams = await Promise.all(chosen.map((index) => fetchFromAnyHolder(fetcher, request, plan, index, result)));
  if (streams.some((s) => s === undefined)) throw notEnough(request, result, "a helper's every holder failed");
  const path = join(request.workDir, `rebuilt-${lostIndex}`);
  await writeRebuilt(request, plan, chosen, streams as string[], path);
  return { ...result, path };
}

/** Fetches piece `index`'s plan from its holders in turn; undefined when all failed. */
async function fetchFromAnyHolder(
  fetcher: PieceFetcher,
  request: SubChunkRepairRequest,
  plan: SubChunkPlan,
  index: number,
  result: SubChunkRepairResult,
): Promise<string | undefined> {
  const piece = request.pieces[index];
  const geometry = subChunkPlanGeometry(plan, piece.payloadSize);
  for (const provider of request.holders.get(index) ?? []) {
    const path = join(request.workDir, `plan-${index}-${provider.address}`);
    try {
      await fetcher.fetch(request.retrievalId, { provider, pieceIndex: index, ...piece, plan }, path, {
        onBytes: (bytes) => (result.bytesDownloaded += bytes),
      });
      result.bytesUsed += geometry.streamBytes;
      result.helpers.push({ pieceIndex: index, provider: provider.address });
      return path;
    } catch (err) {
      if (err instanceof PieceCommitmentMismatchError) {
        result.corrupt.push(corruptPieceOf(err, provider.address, index, piece.root));
      } else {
        result.failed.push({ pieceIndex: index, provider: provider.address, error: (err as Error).message });
      }
    }
  }
  return undefined;
}

/** Rebuilds the lost piece a stripe at a time from the helpers' records; checks its CommP. */
async function writeRebuilt(
  request: SubChunkRepairRequest,
  plan: SubChunkPlan,
  chosen: number[],
  streams: string[],
  path: string,
): Promise<void> {
  const { params, lostIndex, subChunkSize, shareSize } = request;
  const lost = request.pieces[lostIndex];
  const sentBytes = plan.planes.length * subChunkSize;
  const inputs = await Promise.all(streams.map((s) => open(s, "r")));
  const output = await open(path, "w");
  const hasher = new CommPHasher();
  try {
    const recordBytes = chosen.map((i) => subChunkPlanGeometry(plan, request.pieces[i].payloadSize).recordBytes);
    for (let s = 0; s < plan.stripes; s++) {
      const helpers = new Map<number, Uint8Array>();
      for (const [j, index] of chosen.entries()) {
        helpers.set(index, await readAt(inputs[j], s * recordBytes[j], sentBytes));
      }
      const share = clayRepair(params, lostIndex, helpers, subChunkSize);
      await output.write(share, 0, shareSize, s * shareSize);
      hasher.update(share);
    }
    await output.sync();
  } finally {
    await Promise.all(inputs.map((h) => h.close()));
    await output.close();
  }
  const digest = hasher.digest();
  if (digest.pieceCid !== lost.pieceCid) {
    throw new PieceCommitmentMismatchError("the rebuilt piece does not match its commitment", {
      details: { pieceIndex: lostIndex, expected: lost.pieceCid, actual: digest.pieceCid },
    });
  }
}

function notEnough(request: SubChunkRepairRequest, result: SubChunkRepairResult, why: string): NotEnoughHelpersError {
  return new NotEnoughHelpersError(
    `fewer than d = ${request.params.d} helpers can send verified sub-chunks for piece ${request.lostIndex}: decode it from k whole pieces`,
    {
      details: {
        why,
        failures: [
          ...result.corrupt.map((c) => `${c.provider} piece ${c.pieceIndex}: corrupt (chunk ${c.chunk ?? "?"})`),
          ...result.failed.map((f) => `${f.provider} piece ${f.pieceIndex}: ${f.error}`),
        ].join("; "),
      },
    },
  );
}
