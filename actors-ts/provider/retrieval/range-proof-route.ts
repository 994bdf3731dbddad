import type { FastifyReply, FastifyRequest } from "fastify";
import { toHex } from "viem";
import { HttpError } from "../../core/http-errors";
import { CHUNK_LOG2_LEAVES, NODE_BYTES } from "../../piece/constants";
import { pieceGeometry } from "../../piece/commp";
import { pieceKey, treeKey } from "../../piece/piece-intake";
import { PieceTreeCache } from "../../piece/piece-proof";
import { proveRange, quadRunOf, type QuadRun } from "../../piece/range-proof";
import type { RangeProofResponse } from "../../protocol/provider-api";
import type { ProviderComponents } from "../components";
import { heldPiece } from "../held-piece";

/** Query of GET pieceRangeProof(:pieceCid): payload bytes, decimal. */
export interface RangeProofQuery {
  offset?: string;
  length?: string;
}

/**
 * GET pieceRangeProof(:pieceCid)?offset=&length=: the Merkle nodes with which a client checks
 * payload bytes [offset, offset + length) of a held piece — rounded out to whole fr32 quads —
 * against the piece's CommP ({@link RangeProofResponse}), free of charge like the chunk roots.
 * Reads at most the two 1,040,384-byte chunks the range starts and ends in (none when it starts
 * and ends on chunk boundaries); the levels above come from the stored chunk roots.
 *
 * @throws HttpError 400 InvalidPieceCid, 400 InvalidRange (not integers, empty, or past the
 *   payload), 404 PieceNotFound.
 */
export async function serveRangeProof(
  c: Pick<ProviderComponents, "blobs" | "store">,
  request: FastifyRequest<{ Params: { pieceCid: string }; Querystring: RangeProofQuery }>,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const piece = heldPiece(c, request.params.pieceCid);
  if (!piece || !c.blobs.has(treeKey(piece.root))) {
    throw new HttpError(404, "PieceNotFound", "this provider does not hold the piece", {
      pieceCid: request.params.pieceCid,
    });
  }
  const run = runOf(request.query, piece.payloadSize);
  const { height } = pieceGeometry(piece.payloadSize);
  const cache =
    height > CHUNK_LOG2_LEAVES
      ? PieceTreeCache.deserialize(
          await c.blobs.readRange(treeKey(piece.root), 0, NODE_BYTES * 2 ** (height - CHUNK_LOG2_LEAVES)),
          height,
        )
      : undefined;
  const proof = await proveRange(
    (offset, length) => c.blobs.readRange(pieceKey(piece.root), offset, length),
    piece.payloadSize,
    run,
    cache,
  );
  const response: RangeProofResponse = {
    firstLeaf: proof.firstLeaf,
    leafCount: proof.leafCount,
    height,
    left: proof.left.map((n) => (n ? toHex(n) : null)),
    right: proof.right.map((n) => (n ? toHex(n) : null)),
  };
  return reply.send(response);
}

/** The quads the query's byte range covers. @throws HttpError 400 InvalidRange. */
function runOf(query: RangeProofQuery, payloadSize: number): QuadRun {
  const offset = Number(query.offset);
  const length = Number(query.length);
  if (!/^\d{1,15}$/.test(query.offset ?? "") || !/^\d{1,15}$/.test(query.length ?? "")) {
    throw new HttpError(400, "InvalidRange", "offset and length must be decimal byte counts", { ...query });
  }
  try {
    return quadRunOf(payloadSize, offset, length);
  } catch {
    throw new HttpError(400, "InvalidRange", "the range is empty or runs past the piece", {
      offset,
      length,
      payloadSize,
    });
  }
}
