import type { FastifyInstance } from "fastify";
import { toHex, type Hex } from "viem";
import { HttpError } from "../../core/http-errors";
import { parsePieceCidV2 } from "../../piece/piece-cid";
import { escrowBalance, isNonceUsed } from "../../chain/storage-market/reads";
import { hashProposal, signAcceptance, verifyProposalSignature } from "../../chain/storage-market/proposals";
import { extendStorageDeal } from "../../chain/storage-market/extend-storage-deal";
import type { StorageDealProposal } from "../../chain/eip712";
import {
  PROVIDER_PATHS,
  extendDealRequestSchema,
  type ExtendDealResponse,
  proposeDealRequestSchema,
  type ProposalStatusResponse,
  type ProposeDealResponse,
  type UploadResponse,
} from "../../protocol/provider-api";
import type { ProviderComponents, ProviderInit } from "../components";
import type { PublishOutcome, Publisher } from "../publisher";
import { receivePiece } from "../../piece/piece-intake";
import { authenticate, sendError } from "../../core/http-server";

/** How long an upload waits for its deal to be published before answering 202. */
const PUBLISH_WAIT_MS = 90_000;

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
  const uploads = { total: 0, perPeer: new Map<string, number>(), proposals: new Set<string>() };

  app.post(PROVIDER_PATHS.proposals, async (request, reply) => {
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
  });

  // Renewal (seed 001's UpdateStorageDeal): the deal's client sends its signed extension; the
  // provider puts it on chain and proves the piece under the new terms from then on.
  app.post<{ Params: { dealId: string } }>(PROVIDER_PATHS.dealExtension(":dealId"), async (request, reply) => {
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
  });

  app.get<{ Params: { hash: string } }>(PROVIDER_PATHS.proposal(":hash"), async (request, reply) => {
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
  });

  app.put<{ Params: { hash: string } }>(PROVIDER_PATHS.proposalData(":hash"), async (request, reply) => {
    const auth = await authenticate(c, request, { streamedBody: true });
    const row = c.store.proposal(request.params.hash as Hex);
    if (!row) throw new HttpError(404, "ProposalNotFound", "no such proposal", { proposalHash: request.params.hash });
    if (auth.signer.toLowerCase() !== row.submitter.toLowerCase()) {
      throw new HttpError(403, "NotProposalSubmitter", "only the proposal's submitter may upload its data", {
        proposalHash: row.proposalHash,
      });
    }
    if (row.status === "published" && row.dealId !== undefined && row.txHash) {
      request.raw.resume();
      return reply.send(uploadResponse(row.proposalHash, row.dealId, row.txHash, row.pieceCidV2));
    }
    if (row.status !== "accepted" && row.status !== "stored") {
      throw new HttpError(409, "ProposalNotAwaitingData", `proposal is ${row.status}`, {
        proposalHash: row.proposalHash,
        reason: row.reason,
      });
    }
    if (row.status === "accepted") {
      const length = Number(request.headers["content-length"]);
      if (!Number.isInteger(length) || length !== row.payloadSize) {
        throw new HttpError(400, "WrongPieceSize", "Content-Length must equal the piece's payload size", {
          proposalHash: row.proposalHash,
          contentLength: request.headers["content-length"],
          payloadSize: row.payloadSize,
        });
      }
      const peer = auth.signer.toLowerCase();
      if (uploads.proposals.has(row.proposalHash)) {
        throw new HttpError(409, "UploadInProgress", "this proposal's data is already being uploaded");
      }
      if (uploads.total >= init.maxConcurrentUploads || (uploads.perPeer.get(peer) ?? 0) >= init.maxUploadsPerPeer) {
        throw new HttpError(503, "TooManyUploads", "too many uploads in progress; retry later");
      }
      uploads.total++;
      uploads.perPeer.set(peer, (uploads.perPeer.get(peer) ?? 0) + 1);
      uploads.proposals.add(row.proposalHash);
      try {
        await receivePiece(
          request.raw,
          { root: row.root, payloadSize: row.payloadSize, bodySha256: auth.bodySha256, proposalHash: row.proposalHash },
          c.blobs,
          (n) => {
            c.metrics.bytesReceived.inc(n);
            dieAfterReceived(c, init, n);
          },
          c.store.piece(row.root)?.status === "ok",
        );
        c.store.db.transaction(() => {
          c.store.upsertPiece({
            root: row.root,
            pieceCidV2: row.pieceCidV2,
            payloadSize: row.payloadSize,
            paddedSize: row.paddedSize,
          });
          c.store.setProposalStatus(row.proposalHash, "stored");
        })();
        c.metrics.uploads.inc({ result: "stored" });
      } catch (err) {
        c.metrics.uploads.inc({ result: err instanceof HttpError ? err.code : "aborted" });
        // A client that hung up gets no answer; a finished body leaves the socket open.
        if (request.raw.socket.destroyed) return reply;
        return sendError(reply, err, request);
      } finally {
        uploads.total--;
        uploads.perPeer.set(peer, (uploads.perPeer.get(peer) ?? 1) - 1);
        uploads.proposals.delete(row.proposalHash);
      }
    } else {
      request.raw.resume();
    }
    // A provider faulted to never publish answers at once as if its publish had timed out.
    if (!init.faults.neverPublish) publisher.nudge();
    const outcome: PublishOutcome = init.faults.neverPublish
      ? { ok: false, reason: "PublishTimeout" }
      : await publisher.waitFor(row.proposalHash, PUBLISH_WAIT_MS);
    if (outcome.ok) return reply.send(uploadResponse(row.proposalHash, outcome.dealId, outcome.txHash, row.pieceCidV2));
    if (outcome.reason === "PublishTimeout") {
      const response: ProposalStatusResponse = {
        proposalHash: row.proposalHash,
        status: "stored",
        providerSignature: await acceptance(c, row.proposal),
      };
      return reply.code(202).send(response);
    }
    throw new HttpError(422, "PublishFailed", `the market skipped the proposal: ${outcome.reason}`, {
      proposalHash: row.proposalHash,
      reason: outcome.reason,
    });
  });
}

/**
 * This provider's signed acceptance of a proposal whose piece it holds (ECDSA signatures are
 * deterministic, so it is computed on demand rather than stored).
 */
function acceptance(c: Pick<ProviderComponents, "clients" | "contracts">, proposal: StorageDealProposal): Promise<Hex> {
  return signAcceptance(c.clients.account, c.clients.chain.id, c.contracts.storageMarket, proposal);
}

function uploadResponse(proposalHash: Hex, dealId: bigint, txHash: Hex, pieceCid: string): UploadResponse {
  return { proposalHash, dealId: dealId.toString(), txHash, pieceCid };
}

/**
 * Checks a proposal before agreeing to store it.
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
  const { clients, contracts } = c;
  const reject = (code: string, message: string, details: Record<string, string | number> = {}) =>
    new HttpError(422, code, message, details);
  if (init.faults.refuseDeals) throw reject("RefusedByPolicy", "this provider is not taking deals");
  const self = clients.account.address;
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
  const payloadBytes = BigInt(cid.payloadSize);
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
  const latest = await clients.public.getBlockNumber();
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
  if (c.store.committedBytes() + Number(proposal.pieceSize) > init.capacityBytes) {
    throw reject("NoCapacity", "the provider has no room for this piece", { capacityBytes: init.capacityBytes });
  }
  const proposalHash = hashProposal(clients.chain.id, contracts.storageMarket, proposal).toLowerCase() as Hex;
  return { proposalHash, payloadSize: cid.payloadSize };
}

let receivedBytes = 0;

/** Fault injection (config.faults.dieAfterReceivedBytes): SIGKILL once that many upload bytes arrived. */
function dieAfterReceived(c: Pick<ProviderComponents, "logger">, init: Pick<ProviderInit, "faults">, n: number): void {
  const limit = init.faults.dieAfterReceivedBytes;
  if (limit === undefined) return;
  receivedBytes += n;
  if (receivedBytes >= limit) {
    c.logger.fatal({ receivedBytes }, "fault injection: dying mid-upload");
    process.kill(process.pid, "SIGKILL");
  }
}
