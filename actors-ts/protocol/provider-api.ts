import { z } from "zod";
import { zAddress, zHex, zHexBytes, zUint, zUint64 } from "../core/schemas";

/**
 * The provider daemon's HTTP API: paths and body shapes shared by the daemon and its clients.
 * Amounts and epochs travel as decimal strings.
 */
export const PROVIDER_PATHS = {
  info: "/info",
  health: "/healthz",
  metrics: "/metrics",
  proposals: "/deals/proposals",
  proposal: (hash: string) => `/deals/proposals/${hash}`,
  proposalData: (hash: string) => `/deals/proposals/${hash}/data`,
  dealExtension: (dealId: string) => `/deals/${dealId}/extension`,
  piece: (pieceCid: string) => `/pieces/${pieceCid}`,
  manifest: (droot: string) => `/manifests/${droot}`,
  pieceTree: (pieceCid: string) => `/pieces/${pieceCid}/tree`,
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
});
export type OpenRetrievalRequest = z.input<typeof openRetrievalRequestSchema>;

/** The accepted retrieval deal: its lane and payment terms. */
export interface OpenRetrievalResponse {
  retrievalId: string;
  channelId: string;
  lane: string;
  /** Token base units per byte. */
  pricePerByte: string;
  paymentIntervalBytes: number;
  paymentIntervalIncreaseBytes: number;
  maxUnpaidBytes: number;
  startOffset: number;
  endOffset: number;
  /** Payload bytes of the whole piece. */
  payloadSize: number;
}

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

export interface ExtendDealResponse {
  dealId: string;
  endEpoch: string;
  txHash: `0x${string}`;
  proposalHash: `0x${string}`;
}

export interface ProposeDealResponse {
  accepted: true;
  proposalHash: `0x${string}`;
  /** Where to PUT the piece's bytes. */
  uploadPath: string;
  /** Exact number of bytes the upload must carry. */
  payloadSize: number;
}

/** PUT /deals/proposals/:hash/data, once the deal is published. */
export interface UploadResponse {
  proposalHash: `0x${string}`;
  dealId: string;
  txHash: `0x${string}`;
  pieceCid: string;
}

/** GET /deals/proposals/:hash */
export interface ProposalStatusResponse {
  proposalHash: `0x${string}`;
  status: "accepted" | "stored" | "published" | "failed" | "expired";
  reason?: string;
  dealId?: string;
  txHash?: `0x${string}`;
  /**
   * The provider's EIP-712 `StorageDealAcceptance` of the proposal, once it holds the piece
   * (stored or published): with it the client may publish the deal itself if the provider does
   * not (seed 001 steps 2–3).
   */
  providerSignature?: `0x${string}`;
}

/** GET /info */
export interface ProviderInfoResponse {
  address: `0x${string}`;
  chainId: number;
  storageMarket: `0x${string}`;
  storageAsk: Record<string, string>;
  retrievalAsk: Record<string, string>;
  version: string;
}
