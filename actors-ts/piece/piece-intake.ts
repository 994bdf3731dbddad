import { createHash } from "node:crypto";
import { open, rm } from "node:fs/promises";
import { toHex, type Hex } from "viem";
import type { BlobStore } from "../core/blob-store";
import { HttpError } from "../core/http-errors";
import { CommPHasher } from "./commp";

/** Key of a piece's chunk-root cache blob next to its payload blob. */
export function treeKey(root: Hex): string {
  return `${root.toLowerCase()}.tree`;
}

/** Key of a piece's payload blob. */
export function pieceKey(root: Hex): string {
  return root.toLowerCase();
}

/** What an upload must match. */
export interface ExpectedPiece {
  root: Hex;
  payloadSize: number;
  /** Hex SHA-256 the sender signed for the body. */
  bodySha256: string;
  /** For error messages. */
  proposalHash: Hex;
}

/**
 * Receives a piece body: streams it to a temp file while computing its CommP and SHA-256, and
 * commits it to the blob store (payload + chunk-root cache) only when the size, the signed body
 * hash and the commitment all match. On any failure the temp file is removed and nothing is kept,
 * so a partial piece can never be served or proven.
 *
 * Pieces are stored once per root: when `keepHeld` is set and the blob already held for this
 * root is at least as long (a payload with the same root differs only by trailing zeros), the
 * verified upload is dropped and the held blob serves both.
 *
 * @throws HttpError 400 (truncated), 413 (too long), 401 (body hash), 422 (commitment mismatch).
 */
export async function receivePiece(
  body: AsyncIterable<Uint8Array>,
  expected: ExpectedPiece,
  blobs: BlobStore,
  onBytes?: (n: number) => void,
  keepHeld = false,
): Promise<{ chunkRoots: Uint8Array }> {
  const temp = blobs.tempPath();
  const handle = await open(temp, "w");
  const chunkRoots: Uint8Array[] = [];
  const commp = new CommPHasher({ onChunkRoot: (_i, root) => chunkRoots.push(root) });
  const sha = createHash("sha256");
  let received = 0;
  let committed = false;
  // Network chunks are small; hash and write them in ~1 MiB batches.
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  const flush = async (): Promise<void> => {
    if (pendingBytes === 0) return;
    const batch = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    commp.update(batch);
    sha.update(batch);
    await handle.write(batch);
    onBytes?.(batch.length);
  };
  try {
    for await (const chunk of body) {
      received += chunk.length;
      if (received > expected.payloadSize) {
        throw new HttpError(413, "PieceTooLarge", "upload is longer than the proposal's piece", {
          proposalHash: expected.proposalHash,
          expectedBytes: expected.payloadSize,
        });
      }
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= 1 << 20) await flush();
    }
    await flush();
    if (received !== expected.payloadSize) {
      throw new HttpError(400, "TruncatedUpload", "upload ended before the whole piece arrived", {
        proposalHash: expected.proposalHash,
        receivedBytes: received,
        expectedBytes: expected.payloadSize,
      });
    }
    if (sha.digest("hex") !== expected.bodySha256) {
      throw new HttpError(401, "BodyHashMismatch", "upload does not match the SHA-256 the request signed", {
        proposalHash: expected.proposalHash,
      });
    }
    const root = toHex(commp.digest().root);
    if (root !== expected.root.toLowerCase()) {
      throw new HttpError(422, "PieceCommitmentMismatch", "uploaded bytes do not hash to the proposal's pieceCid", {
        proposalHash: expected.proposalHash,
        expected: expected.root,
        actual: root,
      });
    }
    await handle.sync();
    await handle.close();
    const roots = new Uint8Array(chunkRoots.length * 32);
    chunkRoots.forEach((r, i) => roots.set(r, i * 32));
    const held = keepHeld && blobs.has(pieceKey(expected.root)) && blobs.has(treeKey(expected.root));
    if (held && (blobs.size(pieceKey(expected.root)) ?? -1) >= expected.payloadSize) return { chunkRoots: roots };
    await blobs.write(treeKey(expected.root), roots);
    await blobs.commit(temp, pieceKey(expected.root));
    committed = true;
    return { chunkRoots: roots };
  } finally {
    if (!committed) {
      await handle.close().catch(() => undefined);
      await rm(temp, { force: true });
    }
  }
}
