import { hexToBytes } from "viem";
import {
  SubChunkMismatchError,
  SubChunkPlanVerifier,
  subChunkPlanGeometry,
  type SubChunkPlan,
} from "../../piece/subchunk-proof";
import { PieceCommitmentMismatchError, verifiedChunkRoots, type CheckedPiece } from "./chunk-verifier";

/**
 * A fetch's verifier for a sub-chunk plan's stream (piece/subchunk-proof.ts): the helper's chunk
 * roots are fetched and checked against its CommP first (free), then every record is checked a
 * chunk at a time; a mismatch is a {@link PieceCommitmentMismatchError} naming the provider, the
 * piece, the chunk and the stripes, like a whole piece's.
 *
 * @param verifiedBytes Bytes of the stream an earlier run verified (a resumed fetch); the check
 *   resumes from the last chunk boundary at or before them.
 * @returns The verifier and the stream offset it starts at.
 * @throws PieceCommitmentMismatchError for malformed chunk roots; InvalidArgumentError for a bad plan.
 */
export async function planVerifierFor(
  target: CheckedPiece & { plan: SubChunkPlan },
  verifiedBytes: number,
): Promise<{ verifier: { push(bytes: Buffer): number }; startAt: number }> {
  const { plan } = target;
  const geometry = subChunkPlanGeometry(plan, target.payloadSize);
  const roots = await verifiedChunkRoots(target);
  const root = hexToBytes(target.root);
  // Resume at the furthest whole stripe the earlier run verified that starts a chunk.
  let stripes = Math.floor(verifiedBytes / geometry.recordBytes);
  while (stripes > 0 && ((plan.firstStripe + stripes) * geometry.alpha) % geometry.perCheckNode !== 0) stripes--;
  const startAt = stripes * geometry.recordBytes;
  const rest = { ...plan, firstStripe: plan.firstStripe + stripes, stripes: plan.stripes - stripes };
  if (rest.stripes === 0) return { verifier: { push: () => startAt }, startAt };
  const inner = new SubChunkPlanVerifier(
    rest,
    target.payloadSize,
    (i) => (roots ? roots[i] : root),
    () => undefined,
  );
  return {
    startAt,
    verifier: {
      push(bytes: Buffer): number {
        try {
          return startAt + inner.push(bytes);
        } catch (err) {
          if (!(err instanceof SubChunkMismatchError)) throw err;
          throw new PieceCommitmentMismatchError("sub-chunks do not match the piece commitment", {
            details: {
              provider: target.provider.address,
              pieceIndex: target.pieceIndex,
              pieceCid: target.pieceCid,
              ...err.details,
            },
          });
        }
      },
    },
  };
}
