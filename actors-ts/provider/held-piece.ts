import { toHex, type Hex } from "viem";
import { HttpError } from "../core/http-errors";
import { parsePieceCidV2 } from "../piece/piece-cid";
import type { ProviderComponents } from "./components";
import { pieceKey } from "../piece/piece-intake";

/** A piece this provider can serve, as a request names it. */
export interface HeldPiece {
  root: Hex;
  /** Payload bytes of the piece the PieceCID names. */
  payloadSize: number;
}

/**
 * The piece a PieceCID v2 names, if held in good state. One blob is kept per root: payloads
 * with the same root differ only by trailing zero bytes (fr32 padding is one-to-one), so the
 * longest one held serves every shorter one as a prefix, and each is served at its own length.
 *
 * @throws HttpError 400 InvalidPieceCid when the string is not a PieceCID v2.
 * @returns undefined when the piece is not held, is marked lost, or only a shorter one is held.
 */
export function heldPiece(c: Pick<ProviderComponents, "blobs" | "store">, pieceCid: string): HeldPiece | undefined {
  let parts: ReturnType<typeof parsePieceCidV2>;
  try {
    parts = parsePieceCidV2(pieceCid);
  } catch {
    throw new HttpError(400, "InvalidPieceCid", "not a PieceCID v2", { pieceCid });
  }
  const root = toHex(parts.root);
  const stored = c.store.piece(root);
  if (!stored || stored.status !== "ok" || stored.payloadSize < parts.payloadSize) return undefined;
  if (!c.blobs.has(pieceKey(root))) return undefined;
  return { root, payloadSize: parts.payloadSize };
}
