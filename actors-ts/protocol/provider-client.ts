import type { LocalAccount } from "viem/accounts";
import { z } from "zod";
import { httpCall, httpJson } from "../core/http-client";
import { stringifyJson } from "../core/json";
import { sendSignedJson, type SignedPeer } from "../core/signed-json";
import { signedHoldingsSchema, type SignedHoldings } from "./holdings";
import {
  PROVIDER_PATHS,
  extendDealResponseSchema,
  openRetrievalResponseSchema,
  proposalStatusResponseSchema,
  proposeDealResponseSchema,
  rangeProofResponseSchema,
  type ExtendDealRequest,
  type ExtendDealResponse,
  type OpenRetrievalRequest,
  type OpenRetrievalResponse,
  type ProposalStatusResponse,
  type ProposeDealRequest,
  type ProposeDealResponse,
  type RangeProofResponse,
} from "./provider-api";

/**
 * One typed call per JSON endpoint of the provider daemon (`PROVIDER_PATHS`), each checking the
 * answer against its schema in provider-api.ts / holdings.ts, so no caller parses a provider's
 * JSON itself. Byte streams (piece uploads and downloads, retrieval data) stay with the code that
 * hashes them (client/piece-transfer.ts, client/retrieval/piece-fetcher.ts).
 *
 * Every call throws PeerUnreachableError (no connection, or no answer within its timeout) or
 * PeerRejectedError (a non-2xx answer with the provider's code, or `InvalidJson` /
 * `InvalidResponse` when the body does not parse or fit the schema), naming the provider and
 * the stage.
 */

/** POST /deals/proposals (signed by the client): the provider takes the proposal or says why not. */
export function proposeDeal(
  account: LocalAccount,
  provider: SignedPeer,
  body: ProposeDealRequest,
): Promise<ProposeDealResponse> {
  const request = { method: "POST" as const, path: PROVIDER_PATHS.proposals, stage: "propose deal" };
  return sendSignedJson(account, provider, request, stringifyJson(body), proposeDealResponseSchema);
}

/** POST /deals/:dealId/extension (signed by the client): the provider publishes the renewal. */
export function extendDeal(
  account: LocalAccount,
  provider: SignedPeer,
  dealId: bigint,
  body: ExtendDealRequest,
): Promise<ExtendDealResponse> {
  const request = {
    method: "POST" as const,
    path: PROVIDER_PATHS.dealExtension(dealId.toString()),
    stage: "extend deal",
  };
  return sendSignedJson(account, provider, request, stringifyJson(body), extendDealResponseSchema);
}

/** GET /deals/proposals/:hash: where the provider is with a proposal (404 ProposalNotFound when it never saw it). */
export function getProposalStatus(provider: SignedPeer, proposalHash: string): Promise<ProposalStatusResponse> {
  return httpJson(
    { method: "GET", url: provider.endpoint + PROVIDER_PATHS.proposal(proposalHash) },
    { peer: provider.address, stage: "deal status" },
    proposalStatusResponseSchema,
  );
}

/**
 * GET /manifests/:droot: the file's manifest as the provider keeps it, unverified — the caller
 * checks it against the droot (`verifyManifest`), since any provider may answer anything.
 *
 * @param timeoutMs Wait for the answer's headers, ms (default 10 s).
 */
export function getManifestJson(provider: SignedPeer, droot: string, timeoutMs = 10_000): Promise<unknown> {
  return httpJson(
    { method: "GET", url: provider.endpoint + PROVIDER_PATHS.manifest(droot), headersTimeoutMs: timeoutMs },
    { peer: provider.address, stage: "fetch manifest" },
    z.unknown(),
  );
}

/** PUT /manifests/:droot (signed by a client with a deal on one of the file's pieces). */
export async function putManifest(
  account: LocalAccount,
  provider: SignedPeer,
  droot: string,
  json: string,
): Promise<void> {
  const request = { method: "PUT" as const, path: PROVIDER_PATHS.manifest(droot), stage: "store manifest" };
  await sendSignedJson(account, provider, request, json, z.unknown());
}

/**
 * GET /holdings[?since=seq]: the provider's signed holdings advertisement (seed 002), the changes
 * since `since` or a snapshot. The caller checks the signature (`verifyHoldings`).
 *
 * @param timeoutMs Wait for the answer's headers, ms (default 5 s).
 */
export function getHoldings(provider: SignedPeer, since?: number, timeoutMs = 5_000): Promise<SignedHoldings> {
  const query = since === undefined ? "" : `?since=${since}`;
  return httpJson(
    { method: "GET", url: provider.endpoint + PROVIDER_PATHS.holdings + query, headersTimeoutMs: timeoutMs },
    { peer: provider.address, stage: "fetch holdings" },
    signedHoldingsSchema,
  );
}

/**
 * GET /pieces/:pieceCid/proof?offset=&length=: the nodes proving payload bytes
 * [offset, offset + length) of the piece (rounded out to whole quads) against its commitment,
 * unverified — the caller hashes the bytes with them and compares with the root it trusts.
 *
 * @param timeoutMs Wait for the answer's headers, ms (default 10 s).
 */
export function getRangeProof(
  provider: SignedPeer,
  pieceCid: string,
  offset: number,
  length: number,
  timeoutMs = 10_000,
): Promise<RangeProofResponse> {
  const query = `?offset=${offset}&length=${length}`;
  return httpJson(
    {
      method: "GET",
      url: provider.endpoint + PROVIDER_PATHS.pieceRangeProof(pieceCid) + query,
      headersTimeoutMs: timeoutMs,
    },
    { peer: provider.address, stage: "fetch range proof" },
    rangeProofResponseSchema,
  );
}

/**
 * GET /pieces/:pieceCid/tree answered 2xx: the provider holds the piece (public and cheap).
 *
 * @param timeoutMs Wait for the answer's headers, ms (default 5 s).
 * @returns false when it does not, or cannot be reached.
 */
export async function holdsPiece(provider: SignedPeer, pieceCid: string, timeoutMs = 5_000): Promise<boolean> {
  try {
    const response = await httpCall(
      { method: "GET", url: provider.endpoint + PROVIDER_PATHS.pieceTree(pieceCid), headersTimeoutMs: timeoutMs },
      { peer: provider.address, stage: "probe holdings" },
    );
    await response.body.dump();
    return true;
  } catch {
    return false;
  }
}

/** POST /retrievals (signed by the reader): opens a paid retrieval of a piece on a channel lane. */
export function openRetrieval(
  account: LocalAccount,
  provider: SignedPeer,
  body: OpenRetrievalRequest,
): Promise<OpenRetrievalResponse> {
  const request = { method: "POST" as const, path: PROVIDER_PATHS.retrievals, stage: "open retrieval" };
  return sendSignedJson(account, provider, request, stringifyJson(body), openRetrievalResponseSchema);
}

/** POST /retrievals/:id/payment (signed by the reader): hands the provider a voucher. */
export async function payRetrieval(
  account: LocalAccount,
  provider: SignedPeer,
  retrievalId: string,
  voucher: unknown,
): Promise<void> {
  const request = { method: "POST" as const, path: PROVIDER_PATHS.retrievalPayment(retrievalId), stage: "pay" };
  await sendSignedJson(account, provider, request, stringifyJson(voucher), z.unknown());
}
