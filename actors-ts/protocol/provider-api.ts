import { z } from "zod";
import { zAddress, zByteCount, zDecimalString, zHex, zHexBytes, zUint, zUint64 } from "../core/schemas";
import { HEALTH_PATH } from "./health-api";

/**
 * The provider daemon's HTTP API: paths and body shapes shared by the daemon and its clients.
 * Amounts and epochs travel as decimal strings. Requests and responses both have zod schemas:
 * the daemon parses requests with them, clients parse responses (`httpJson`), so a peer that
 * answers another shape is a clear `InvalidResponse`, not a wrong value later.
 */
export const PROVIDER_PATHS = {
  info: "/info",
  /** `health-api.ts`: the same shape on every daemon. */
  health: HEALTH_PATH,
  metrics: "/metrics",
  proposals: "/deals/proposals",
  proposal: (hash: string) => `/deals/proposals/${hash}`,
  proposalData: (hash: string) => `/deals/proposals/${hash}/data`,
  dealExtension: (dealId: string) => `/deals/${dealId}/extension`,
  piece: (pieceCid: string) => `/pieces/${pieceCid}`,
  manifest: (droot: string) => `/manifests/${droot}`,
  pieceTree: (pieceCid: string) => `/pieces/${pieceCid}/tree`,
  /** `?offset=&length=` (payload bytes): see {@link rangeProofResponseSchema}. */
  pieceRangeProof: (pieceCid: string) => `/pieces/${pieceCid}/proof`,
  holdings: "/holdings",
  retrievals: "/retrievals",
  retrieval: (id: string) => `/retrievals/${id}`,
  retrievalData: (id: string) => `/retrievals/${id}/data`,
  retrievalPayment: (id: string) => `/retrievals/${id}/payment`,
} as const;

/** Header carrying a base64 signed voucher on `GET /retrievals/:id/data`. */
export const VOUCHER_HEADER = "x-rm-voucher";

/** POST /retrievals: open a paid retrieval deal for (part of) a piece on a payment channel. */
export const openRetrievalRequestSchema = z.object({
  pieceCid: z.string().min(1).max(200),
  channelId: zUint,
  /** First byte wanted (default 0). */
  offset: z.number().int().nonnegative().default(0),
  /** Bytes wanted (default: to the end of the piece). */
  length: z.number().int().positive().optional(),
  /**
   * Instead of a byte range: a sub-chunk plan (piece/subchunk-proof.ts), for a regenerating-code
   * repair's helper. The retrieval's offsets are then into the plan's stream of records.
   */
  plan: z
    .object({
      shareSize: z.number().int().positive(),
      subChunkSize: z.number().int().positive(),
      planes: z.array(z.number().int().nonnegative()).min(1).max(65_536),
      firstStripe: z.number().int().nonnegative(),
      stripes: z.number().int().positive(),
    })
    .optional(),
});
export type OpenRetrievalRequest = z.input<typeof openRetrievalRequestSchema>;

/** The accepted retrieval deal: its lane and payment terms. */
export const openRetrievalResponseSchema = z.object({
  retrievalId: z.string().min(1).max(100),
  channelId: zDecimalString,
  lane: zDecimalString,
  /** Token base units per byte. */
  pricePerByte: zDecimalString,
  paymentIntervalBytes: zByteCount,
  paymentIntervalIncreaseBytes: zByteCount,
  maxUnpaidBytes: zByteCount,
  startOffset: zByteCount,
  endOffset: zByteCount,
  /** Payload bytes of the whole piece. */
  payloadSize: zByteCount,
});
export type OpenRetrievalResponse = z.output<typeof openRetrievalResponseSchema>;

/**
 * Codes of a 402 on `GET /retrievals/:id/data` that refuse credit, not payment (decisions 37):
 * the client already owes for all the unpaid bytes the provider allows it (on any of its lanes
 * and channels), or the channel's free funds could not pay for more. A voucher paying for the
 * interval in advance is served.
 */
export const CREDIT_REFUSALS = ["UnpaidLimitReached", "UnpaidExceedsFunds"] as const;

/**
 * Size of a retrieval's payment interval `n` (0-based), bytes: Filecoin's paymentInterval grown
 * by paymentIntervalIncrease, capped at the provider's unpaid allowance.
 */
export function paymentIntervalBytes(
  terms: Pick<OpenRetrievalResponse, "paymentIntervalBytes" | "paymentIntervalIncreaseBytes" | "maxUnpaidBytes">,
  n: number,
): number {
  return Math.min(terms.paymentIntervalBytes + n * terms.paymentIntervalIncreaseBytes, terms.maxUnpaidBytes);
}

/**
 * GET /pieces/:pieceCid/proof?offset=O&length=L (public, free, like the chunk roots): the Merkle
 * nodes that prove payload bytes [O, O + L) of a held piece against its CommP root, the range
 * rounded out to whole fr32 quads (127 payload bytes, 4 leaves; `piece/range-proof.ts`). Nodes
 * are 0x-hex, 32 bytes; slot l of `left` / `right` is the node beside the run at tree level l
 * (leaf level 0) when the run needs one there, else null. 400 InvalidRange when the range is
 * empty or runs past the payload; 404 PieceNotFound.
 */
export const rangeProofResponseSchema = z.object({
  /** First leaf of the proven run: 4 · ⌊O / 127⌋. */
  firstLeaf: zByteCount,
  /** Leaves in the run: 4 · (quads from ⌊O / 127⌋ to ⌈(O + L) / 127⌉). */
  leafCount: z.number().int().positive().safe(),
  /** Height of the piece tree: the length of `left` and `right`. */
  height: z.number().int().min(2).max(60),
  left: z.array(zHexBytes(32).nullable()).max(60),
  right: z.array(zHexBytes(32).nullable()).max(60),
});
export type RangeProofResponse = z.output<typeof rangeProofResponseSchema>;

export const storageDealProposalSchema = z.object({
  pieceCid: zHexBytes(32),
  pieceSize: zUint64,
  payloadSize: zUint64,
  client: zAddress,
  provider: zAddress,
  label: z.string().max(512),
  startEpoch: zUint64,
  endEpoch: zUint64,
  storagePricePerEpoch: zUint,
  providerCollateral: zUint,
  clientCollateral: zUint,
  nonce: zUint,
});

/** POST /deals/proposals */
export const proposeDealRequestSchema = z.object({
  proposal: storageDealProposalSchema,
  clientSignature: zHex,
  /** PieceCID v2 of the piece: commits to the root and the exact payload size. */
  pieceCidV2: z.string().min(1).max(200),
});
export type ProposeDealRequest = z.input<typeof proposeDealRequestSchema>;

/**
 * POST /deals/:dealId/extension (signed by the deal's client): renew a published deal. `proposal`
 * is the deal's current proposal with a later `endEpoch` and a fresh `nonce`.
 */
export const extendDealRequestSchema = z.object({
  proposal: storageDealProposalSchema,
  clientSignature: zHex,
});
export type ExtendDealRequest = z.input<typeof extendDealRequestSchema>;

export const extendDealResponseSchema = z.object({
  dealId: zDecimalString,
  endEpoch: zDecimalString,
  txHash: zHexBytes(32),
  proposalHash: zHexBytes(32),
});
export type ExtendDealResponse = z.output<typeof extendDealResponseSchema>;

export const proposeDealResponseSchema = z.object({
  accepted: z.literal(true),
  proposalHash: zHexBytes(32),
  /** Where to PUT the piece's bytes. */
  uploadPath: z.string().startsWith("/"),
  /** Exact number of bytes the upload must carry. */
  payloadSize: zByteCount,
});
export type ProposeDealResponse = z.output<typeof proposeDealResponseSchema>;

/** PUT /deals/proposals/:hash/data, once the deal is published. */
export const uploadResponseSchema = z.object({
  proposalHash: zHexBytes(32),
  dealId: zDecimalString,
  txHash: zHexBytes(32),
  pieceCid: z.string().min(1),
});
export type UploadResponse = z.output<typeof uploadResponseSchema>;

/** GET /deals/proposals/:hash (and the 202 of an upload whose deal is not yet published). */
export const proposalStatusResponseSchema = z.object({
  proposalHash: zHexBytes(32),
  status: z.enum(["accepted", "stored", "published", "failed", "expired"]),
  reason: z.string().optional(),
  dealId: zDecimalString.optional(),
  txHash: zHexBytes(32).optional(),
  /**
   * The provider's EIP-712 `StorageDealAcceptance` of the proposal, once it holds the piece
   * (stored or published): with it the client may publish the deal itself if the provider does
   * not (seed 001 steps 2–3).
   */
  providerSignature: zHex.optional(),
});
export type ProposalStatusResponse = z.output<typeof proposalStatusResponseSchema>;

/** GET /info */
export interface ProviderInfoResponse {
  address: `0x${string}`;
  chainId: number;
  storageMarket: `0x${string}`;
  storageAsk: Record<string, string>;
  retrievalAsk: Record<string, string>;
  version: string;
}
