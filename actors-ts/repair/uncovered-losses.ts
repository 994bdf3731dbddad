import type { PieceRow, RepairJobRow } from "./repair-rows";

/**
 * Indices of a deal's pieces that are lost (reported on chain, state "lost") but sit in no
 * queued repair job: the losses nobody is working on. A "rebuilt" job does not cover a lost
 * piece — it hands its pieces to placement, so a piece it rebuilt is "pending", never "lost".
 * Pure, for the watcher's sweep (issue "Repairs that never silently stop").
 *
 * @param pieces The deal's pieces.
 * @param jobs The deal's repair jobs, any status.
 * @returns Piece indices, ascending.
 */
export function uncoveredLosses(
  pieces: Pick<PieceRow, "index" | "state">[],
  jobs: Pick<RepairJobRow, "indices" | "status">[],
): number[] {
  const queued = new Set(jobs.filter((j) => j.status === "queued").flatMap((j) => j.indices));
  return pieces
    .filter((p) => p.state === "lost" && !queued.has(p.index))
    .map((p) => p.index)
    .sort((a, b) => a - b);
}
