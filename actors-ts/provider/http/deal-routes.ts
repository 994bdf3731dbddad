import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { toHex, type Hex } from "viem";
import { HttpError } from "../../core/http-errors";
import { parsePieceCidV2, type PieceCidParts } from "../../piece/piece-cid";
import { escrowBalance, isNonceUsed } from "../../chain/storage-market/reads";
import { hashProposal, verifyProposalSignature } from "../../chain/storage-market/proposals";
import { extendStorageDeal } from "../../chain/storage-market/extend-storage-deal";
import type { StorageDealProposal } from "../../chain/eip712";
import {
  PROVIDER_PATHS,
  extendDealRequestSchema,
  type ExtendDealResponse,
  proposeDealRequestSchema,
  type ProposalStatusResponse,
  type ProposeDealResponse,
} from "../../protocol/provider-api";
import type { ProviderComponents, ProviderInit } from "../components";
import type { Publisher } from "../publisher";
import { authenticate } from "../../core/http-server";
import { acceptance, uploadProposalData, type UploadSlots } from "./deal-upload-route";

/**
 * Seed 001's StorageMarket flow on the provider side: a signed proposal is checked against the
 * ask, the client's escrow and the provider's capacity (steps 1–2), its piece is pushed and
 * checked while streaming (4–8), and the deal is published (3, 9).
 */
export function registerDealRoutes(
  app: FastifyInstance,
  c: Pick<ProviderComponents, "blobs" | "clients" | "contracts" | "logger" | "metrics" | "store">,
  init: Pick<
    ProviderInit,
    | "capacityBytes"
    | "faults"
    | "maxConcurrentUploads"
    | "maxDealDurationEpochs"
    | "maxUploadsPerPeer"
    | "provingPeriodEpochs"
    | "storageAsk"
  >,
  publisher: Publisher,
): void {
  const uploads: UploadSlots = { total: 0, perPeer: new Map<string, number>(), proposals: new Set<string>() };
  app.post(PROVIDER_PATHS.proposals, (request, reply) => proposeDeal(c, init, request, reply));
  app.post<{ Params: { dealId: string } }>(PROVIDER_PATHS.dealExtension(":dealId"), (request, reply) =>
    extendDeal(c, init, request, reply),
  );
  app.get<{ Params: { hash: string } }>(PROVIDER_PATHS.proposal(":hash"), (request, reply) =>
    proposalStatus(c, request, reply),
  );
  app.put<{ Params: { hash: string } }>(PROVIDER_PATHS.proposalData(":hash"), (request, reply) =>
    uploadProposalData(c, init, publisher, uploads, request, reply),
  );
}

/**
 * POST proposals: a client's signed proposal (steps 1–2). Checks it ({@link checkProposal}),
 * records a new one as "accepted" with its submitter, and answers {@link ProposeDealResponse}
 * with the path to upload its piece to; a proposal already accepted is answered again.
 *
 * @throws HttpError 422 naming the failed check, 409 ProposalAlreadyHandled when the proposal is
 *   already past "accepted".
 */
async function proposeDeal(
  c: Pick<ProviderComponents, "clients" | "contracts" | "metrics" | "store">,
  init: Pick<ProviderInit, "capacityBytes" | "faults" | "maxDealDurationEpochs" | "provingPeriodEpochs" | "storageAsk">,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const auth = await authenticate(c, request);
  const body = proposeDealRequestSchema.parse(request.body);
  const proposal: StorageDealProposal = body.proposal;
  let checked;
  try {
    checked = await checkProposal(c, init, proposal, body.clientSignature, body.pieceCidV2);
  } catch (err) {
    c.metrics.proposals.inc({ result: err instanceof HttpError ? err.code : "error" });
    throw err;
  }
  const existing = c.store.proposal(checked.proposalHash);
  if (!existing) {
    c.store.insertProposal({
      proposalHash: checked.proposalHash,
      client: proposal.client,
      submitter: auth.signer,
      proposal,
      clientSignature: body.clientSignature,
      pieceCidV2: body.pieceCidV2,
      root: proposal.pieceCid,
      payloadSize: checked.payloadSize,
      paddedSize: Number(proposal.pieceSize),
    });
  } else if (existing.status !== "accepted") {
    throw new HttpError(409, "ProposalAlreadyHandled", `proposal is already ${existing.status}`, {
      proposalHash: checked.proposalHash,
    });
  }
  c.metrics.proposals.inc({ result: "accepted" });
  const response: ProposeDealResponse = {
    accepted: true,
    proposalHash: checked.proposalHash,
    uploadPath: PROVIDER_PATHS.proposalData(checked.proposalHash),
    payloadSize: checked.payloadSize,
  };
  return reply.send(response);
}

/**
 * POST dealExtension(:dealId) — renewal (seed 001's UpdateStorageDeal): the deal's client sends
 * its signed extension; the provider puts it on chain and proves the piece under the new terms
 * from then on. Answers {@link ExtendDealResponse}.
 *
 * @throws HttpError 404 DealNotFound (no open deal with this id, or its proposal unknown), 403
 *   NotDealClient, 401 InvalidSignature, 422 RefusedByPolicy (the `declineExtensions` fault).
 */
async function extendDeal(
  c: Pick<ProviderComponents, "clients" | "contracts" | "logger" | "store">,
  init: Pick<ProviderInit, "faults">,
  request: FastifyRequest<{ Params: { dealId: string } }>,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const auth = await authenticate(c, request);
  const body = extendDealRequestSchema.parse(request.body);
  const extended: StorageDealProposal = body.proposal;
  const dealId = /^\d{1,30}$/.test(request.params.dealId) ? BigInt(request.params.dealId) : undefined;
  const deal = dealId === undefined ? undefined : c.store.deal(dealId);
  if (dealId === undefined || !deal || deal.status !== "open") {
    throw new HttpError(404, "DealNotFound", "no open deal with this id at this provider", {
      dealId: request.params.dealId,
    });
  }
  const current = c.store.proposal(deal.proposalHash);
  if (!current)
    throw new HttpError(404, "DealNotFound", "the deal's proposal is unknown here", {
      dealId: deal.dealId.toString(),
    });
  if (init.faults.declineExtensions) {
    throw new HttpError(422, "RefusedByPolicy", "this provider does not extend deals", {
      dealId: deal.dealId.toString(),
    });
  }
  if (auth.signer.toLowerCase() !== current.proposal.client.toLowerCase()) {
    throw new HttpError(403, "NotDealClient", "only the deal's client may extend it", {
      dealId: deal.dealId.toString(),
    });
  }
  const { clients, contracts } = c;
  if (!(await verifyProposalSignature(clients, contracts.storageMarket, extended, body.clientSignature))) {
    throw new HttpError(401, "InvalidSignature", "the extension is not signed by its client", {
      dealId: deal.dealId.toString(),
    });
  }
  const { hash } = await extendStorageDeal(
    clients,
    contracts,
    deal.dealId,
    current.proposal,
    extended,
    body.clientSignature,
  );
  const proposalHash = hashProposal(clients.chain.id, contracts.storageMarket, extended);
  c.store.db.transaction(() => {
    if (!c.store.proposal(proposalHash)) {
      c.store.insertProposal({
        ...current,
        proposalHash,
        proposal: extended,
        clientSignature: body.clientSignature,
      });
    }
    c.store.setProposalStatus(proposalHash, "published", { dealId: deal.dealId, txHash: hash });
    c.store.renewDeal(deal.dealId, proposalHash, extended.endEpoch);
  })();
  c.logger.info(
    { dealId: deal.dealId.toString(), endEpoch: extended.endEpoch.toString(), txHash: hash },
    "deal extended",
  );
  const response: ExtendDealResponse = {
    dealId: deal.dealId.toString(),
    endEpoch: extended.endEpoch.toString(),
    txHash: hash,
    proposalHash,
  };
  return reply.send(response);
}

/**
 * GET proposal(:hash): the proposal's {@link ProposalStatusResponse}, with the provider's signed
 * acceptance once its piece is stored.
 *
 * @throws HttpError 404 ProposalNotFound.
 */
async function proposalStatus(
  c: Pick<ProviderComponents, "clients" | "contracts" | "store">,
  request: FastifyRequest<{ Params: { hash: string } }>,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const row = c.store.proposal(request.params.hash as Hex);
  if (!row) throw new HttpError(404, "ProposalNotFound", "no such proposal", { proposalHash: request.params.hash });
  const response: ProposalStatusResponse = {
    proposalHash: row.proposalHash,
    status: row.status,
    reason: row.reason,
    dealId: row.dealId?.toString(),
    txHash: row.txHash,
    providerSignature:
      row.status === "stored" || row.status === "published" ? await acceptance(c, row.proposal) : undefined,
  };
  return reply.send(response);
}

/**
 * Checks a proposal before agreeing to store it: its terms and piece, the ask, its epochs, the
 * client (signature, nonce, escrow), then the provider's capacity, in that order.
 *
 * @throws HttpError 422 with a code naming the failed check.
 */
async function checkProposal(
  c: Pick<ProviderComponents, "clients" | "contracts" | "store">,
  init: Pick<ProviderInit, "capacityBytes" | "faults" | "maxDealDurationEpochs" | "provingPeriodEpochs" | "storageAsk">,
  proposal: StorageDealProposal,
  signature: Hex,
  pieceCidV2: string,
): Promise<{ proposalHash: Hex; payloadSize: number }> {
  const cid = checkTerms(c, init, proposal, pieceCidV2);
  checkAsk(init, proposal, BigInt(cid.payloadSize));
  await checkEpochs(c, init, proposal);
  await checkClient(c, proposal, signature);
  checkCapacity(c, init, proposal);
  const proposalHash = hashProposal(c.clients.chain.id, c.contracts.storageMarket, proposal).toLowerCase() as Hex;
  return { proposalHash, payloadSize: cid.payloadSize };
}

/** A 422 refusal of a proposal, `code` naming the failed check. */
function reject(code: string, message: string, details: Record<string, string | number> = {}): HttpError {
  return new HttpError(422, code, message, details);
}

/**
 * The proposal's terms: the provider takes deals, the proposal names it, and `pieceCidV2` is a
 * PieceCID v2 agreeing with the proposal's piece, of more than 0 payload bytes.
 *
 * @returns The parsed PieceCID.
 * @throws HttpError 422 RefusedByPolicy, WrongProvider, InvalidPieceCid, PieceCidMismatch, EmptyPiece.
 */
function checkTerms(
  c: Pick<ProviderComponents, "clients">,
  init: Pick<ProviderInit, "faults">,
  proposal: StorageDealProposal,
  pieceCidV2: string,
): PieceCidParts {
  if (init.faults.refuseDeals) throw reject("RefusedByPolicy", "this provider is not taking deals");
  const self = c.clients.account.address;
  if (proposal.provider.toLowerCase() !== self.toLowerCase()) {
    throw reject("WrongProvider", "proposal names another provider", { provider: proposal.provider });
  }
  let cid;
  try {
    cid = parsePieceCidV2(pieceCidV2);
  } catch {
    throw reject("InvalidPieceCid", "pieceCidV2 is not a PieceCID v2");
  }
  if (
    toHex(cid.root) !== proposal.pieceCid.toLowerCase() ||
    BigInt(cid.paddedSize) !== proposal.pieceSize ||
    BigInt(cid.payloadSize) !== proposal.payloadSize
  ) {
    throw reject("PieceCidMismatch", "pieceCidV2 disagrees with the proposal's pieceCid, pieceSize or payloadSize", {
      pieceCidV2,
      payloadSize: cid.payloadSize,
    });
  }
  if (cid.payloadSize === 0) {
    throw reject("EmptyPiece", "a piece of 0 payload bytes stores nothing; this provider refuses it");
  }
  return cid;
}

/**
 * The proposal against the provider's storage ask: piece size, price and collateral.
 *
 * @throws HttpError 422 PieceSizeOutsideAsk, PriceBelowAsk, CollateralAboveAsk.
 */
function checkAsk(init: Pick<ProviderInit, "storageAsk">, proposal: StorageDealProposal, payloadBytes: bigint): void {
  const ask = init.storageAsk;
  if (proposal.pieceSize < ask.minPieceSize || proposal.pieceSize > ask.maxPieceSize) {
    throw reject("PieceSizeOutsideAsk", "piece size is outside the provider's ask", {
      pieceSize: proposal.pieceSize.toString(),
      min: ask.minPieceSize.toString(),
      max: ask.maxPieceSize.toString(),
    });
  }
  // Asks are per payload byte (PieceCID v2 carries it): the client pays for what is stored, not
  // for the zero padding to a power of two.
  const minPrice = ask.pricePerBytePerEpoch * payloadBytes;
  if (proposal.storagePricePerEpoch < minPrice) {
    throw reject("PriceBelowAsk", "storagePricePerEpoch is below the ask", {
      offered: proposal.storagePricePerEpoch.toString(),
      required: minPrice.toString(),
    });
  }
  const maxCollateral = ask.collateralPerByte * payloadBytes;
  if (proposal.providerCollateral > maxCollateral) {
    throw reject("CollateralAboveAsk", "providerCollateral is more than the provider offers", {
      asked: proposal.providerCollateral.toString(),
      offered: maxCollateral.toString(),
    });
  }
}

/**
 * The proposal's epochs: it starts late enough to store and prove the piece, and lasts at most
 * the market's maximum duration.
 *
 * @throws HttpError 422 StartEpochTooSoon, InvalidDuration.
 */
async function checkEpochs(
  c: Pick<ProviderComponents, "clients">,
  init: Pick<ProviderInit, "maxDealDurationEpochs" | "provingPeriodEpochs">,
  proposal: StorageDealProposal,
): Promise<void> {
  const latest = await c.clients.public.getBlockNumber();
  const minStart = latest + 2n * init.provingPeriodEpochs;
  if (proposal.startEpoch < minStart) {
    throw reject("StartEpochTooSoon", "startEpoch leaves no time to store and prove the piece", {
      startEpoch: proposal.startEpoch.toString(),
      earliest: minStart.toString(),
    });
  }
  if (
    proposal.endEpoch <= proposal.startEpoch ||
    proposal.endEpoch - proposal.startEpoch > init.maxDealDurationEpochs
  ) {
    throw reject("InvalidDuration", "endEpoch must follow startEpoch within the market's maximum duration");
  }
}

/**
 * The client's side: its signature over the proposal, an unused nonce, and free escrow covering
 * the deal's price and the client's collateral.
 *
 * @throws HttpError 422 InvalidClientSignature, NonceUsed, ClientEscrowTooLow.
 */
async function checkClient(
  c: Pick<ProviderComponents, "clients" | "contracts">,
  proposal: StorageDealProposal,
  signature: Hex,
): Promise<void> {
  const { clients, contracts } = c;
  if (!(await verifyProposalSignature(clients, contracts.storageMarket, proposal, signature))) {
    throw reject("InvalidClientSignature", "the client's signature does not match the proposal", {
      client: proposal.client,
    });
  }
  if (await isNonceUsed(clients, contracts, proposal.client, proposal.nonce)) {
    throw reject("NonceUsed", "the client already used this nonce", { nonce: proposal.nonce.toString() });
  }
  const lock = proposal.storagePricePerEpoch * (proposal.endEpoch - proposal.startEpoch) + proposal.clientCollateral;
  const { free } = await escrowBalance(clients, contracts, proposal.client);
  if (free < lock) {
    throw reject("ClientEscrowTooLow", "the client's free escrow does not cover the deal", {
      free: free.toString(),
      required: lock.toString(),
    });
  }
}

/**
 * The provider's room: the pieces it has committed to plus this one fit its capacity.
 *
 * @throws HttpError 422 NoCapacity.
 */
function checkCapacity(
  c: Pick<ProviderComponents, "store">,
  init: Pick<ProviderInit, "capacityBytes">,
  proposal: StorageDealProposal,
): void {
  if (c.store.committedBytes() + Number(proposal.pieceSize) > init.capacityBytes) {
    throw reject("NoCapacity", "the provider has no room for this piece", { capacityBytes: init.capacityBytes });
  }
}
