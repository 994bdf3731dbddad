import { z } from "zod";
import { toHex, type Hex } from "viem";
import { RepairMarketError } from "../core/errors";
import { zHexBytes } from "../core/schemas";
import { parsePieceCidV2 } from "../piece/piece-cid";
import { fileLayout, isClayShareSize } from "../erasure/layout";
import { clayParamsOf } from "../erasure/coding";
import { buildDroot, type Droot } from "./droot";

/**
 * The manifest: seed 000's "File Root" object, addressed by its droot. It says how to rebuild
 * the file: size, SHA-256, coding parameters and the k + m pieces (PieceCID v2, root, sizes).
 * Client, repair miner and every provider of a piece keep a copy.
 */
export const manifestSchema = z.object({
  version: z.literal(1),
  /** Data root over the pieces and the file leaf. */
  droot: zHexBytes(32),
  fileSize: z.number().int().nonnegative(),
  fileSha256: zHexBytes(32),
  k: z.number().int().min(1).max(255),
  m: z.number().int().min(0).max(255),
  shareSize: z.number().int().positive(),
  /**
   * The erasure code. Absent: Reed–Solomon (every manifest before Clay, unchanged). Clay: its d,
   * the helpers a single-piece repair reads from; shares are alpha sub-chunks of 127 · 2^j bytes.
   */
  coding: z
    .object({ scheme: z.literal("clay"), d: z.number().int().min(1).max(255) })
    .strict()
    .optional(),
  pieces: z
    .array(
      z.object({
        pieceCid: z.string(),
        root: zHexBytes(32),
        /** Padded piece size, bytes. */
        paddedSize: z.number().int().positive(),
        /** Payload bytes (stripes · shareSize). */
        payloadSize: z.number().int().nonnegative(),
      }),
    )
    .min(1),
  /** Original file name, informational only (not part of the droot). */
  name: z.string().optional(),
});

export type Manifest = z.infer<typeof manifestSchema>;

/** A manifest that does not hash to its droot or is inconsistent with itself. */
export class ManifestInvalidError extends RepairMarketError {
  override name = "ManifestInvalidError" as const;
}

/**
 * What a repair bid pays for: the pieces' payload bytes, (k + m) × one piece's, before fr32
 * padding to a power of two (RepairMarket `addBid`'s `size`; issue "pay for, and challenge, what
 * is stored"). The padding is not paid for.
 */
export function encodedPayloadBytes(manifest: Pick<Manifest, "pieces">): bigint {
  return manifest.pieces.reduce((sum, p) => sum + BigInt(p.payloadSize), 0n);
}

/** Rebuilds the droot tree a manifest describes. */
export function manifestDroot(manifest: Omit<Manifest, "droot"> & { droot?: Hex }): Droot {
  return buildDroot(
    manifest.pieces.map((p) => ({ pieceCid: p.root, pieceSize: BigInt(p.paddedSize) })),
    {
      fileSize: manifest.fileSize,
      fileSha256: manifest.fileSha256,
      k: manifest.k,
      m: manifest.m,
      shareSize: manifest.shareSize,
      ...(manifest.coding ? { coding: manifest.coding } : {}),
    },
  );
}

/**
 * A Clay manifest's k, m, d must be a Clay code and its share size alpha sub-chunks of 127 · 2^j
 * bytes (layout.ts `isClayShareSize`).
 *
 * @throws ManifestInvalidError otherwise.
 */
function checkCoding(manifest: Manifest): void {
  if (!manifest.coding) return;
  let alpha: number;
  try {
    alpha = clayParamsOf(manifest.k, manifest.m, manifest.coding).alpha;
  } catch (cause) {
    throw new ManifestInvalidError("manifest's Clay parameters are not a Clay code", {
      cause,
      details: { k: manifest.k, m: manifest.m, d: manifest.coding.d },
    });
  }
  if (!isClayShareSize(manifest.shareSize, alpha)) {
    throw new ManifestInvalidError("a Clay share must be alpha sub-chunks of 127 · 2^j bytes", {
      details: { shareSize: manifest.shareSize, alpha },
    });
  }
}

/**
 * Parses untrusted manifest JSON and checks it completely: schema, k + m pieces of the size the
 * layout implies, PieceCIDs matching roots and sizes, a Clay coding's parameters and share size,
 * and the droot recomputed from its contents.
 *
 * @param input Parsed JSON or a JSON string.
 * @param expectedDroot When given, the manifest must be this droot's.
 * @throws ManifestInvalidError naming the first problem found.
 */
export function verifyManifest(input: unknown, expectedDroot?: Hex): Manifest {
  let raw = input;
  if (typeof input === "string") {
    try {
      raw = JSON.parse(input);
    } catch (cause) {
      throw new ManifestInvalidError("manifest is not JSON", { cause });
    }
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ManifestInvalidError("manifest does not match the schema", {
      details: { issue: parsed.error.issues[0]?.message, path: parsed.error.issues[0]?.path.join(".") },
    });
  }
  const manifest = parsed.data;
  checkCoding(manifest);
  const layout = fileLayout(manifest.fileSize, manifest.k, manifest.m, manifest.shareSize);
  if (manifest.pieces.length !== manifest.k + manifest.m) {
    throw new ManifestInvalidError("manifest lists the wrong number of pieces", {
      details: { pieces: manifest.pieces.length, expected: manifest.k + manifest.m },
    });
  }
  manifest.pieces.forEach((piece, index) => {
    const cid = parsePieceCidV2(piece.pieceCid);
    if (
      toHex(cid.root) !== piece.root ||
      cid.paddedSize !== piece.paddedSize ||
      cid.payloadSize !== piece.payloadSize
    ) {
      throw new ManifestInvalidError("piece CID disagrees with its root or sizes", { details: { index } });
    }
    if (piece.payloadSize !== layout.pieceSize) {
      throw new ManifestInvalidError("piece payload size disagrees with the layout", {
        details: { index, payloadSize: piece.payloadSize, expected: layout.pieceSize },
      });
    }
  });
  const droot = manifestDroot(manifest).root;
  if (droot !== manifest.droot) {
    throw new ManifestInvalidError("manifest does not hash to its droot", {
      details: { claimed: manifest.droot, computed: droot },
    });
  }
  if (expectedDroot && expectedDroot.toLowerCase() !== droot) {
    throw new ManifestInvalidError("manifest belongs to another droot", {
      details: { expected: expectedDroot, actual: droot },
    });
  }
  return manifest;
}
