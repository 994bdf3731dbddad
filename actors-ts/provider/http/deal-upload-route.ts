import type { FastifyReply, FastifyRequest } from "fastify";
import type { Hex } from "viem";
import { HttpError } from "../../core/http-errors";
import { signAcceptance } from "../../chain/storage-market/proposals";
import type { StorageDealProposal } from "../../chain/eip712";
import type { VerifiedRequest } from "../../core/signed-request";
import type { ProposalStatusResponse, UploadResponse } from "../../protocol/provider-api";
import type { ProviderComponents, ProviderInit } from "../components";
import type { ProposalRow } from "../provider-store";
import type { PublishOutcome, Publisher } from "../publisher";
import { receivePiece } from "../../piece/piece-intake";
import { authenticate, sendError } from "../../core/http-server";

/** How long an upload waits for its deal to be published before answering 202. */
const PUBLISH_WAIT_MS = 90_000;

/** The uploads in progress: in all, per uploading peer (lower-case address), and per proposal. */
export interface UploadSlots {
  total: number;
  perPeer: Map<string, number>;
  proposals: Set<string>;
}

/**
 * PUT proposalData(:hash): the proposal's submitter streams its piece (steps 4–8), which is
 * checked against the proposal's root while it arrives, then the provider waits for the deal to
 * be published (3, 9). A proposal already published answers its deal again (the body is drained
 * unread); one already stored skips the upload and only waits for the publish.
 *
 * Answers 200 {@link UploadResponse} once published, or 202 {@link ProposalStatusResponse}
 * ("stored", with the provider's signed acceptance) when the publish has not happened within
 * {@link PUBLISH_WAIT_MS} (at once under `faults.neverPublish`).
 *
 * @throws HttpError 404 ProposalNotFound, 403 NotProposalSubmitter, 409 ProposalNotAwaitingData,
 *   the upload's errors (see {@link receiveUpload}), 422 PublishFailed when the market skipped
 *   the proposal.
 */
export async function uploadProposalData(
  c: Pick<ProviderComponents, "blobs" | "clients" | "contracts" | "logger" | "metrics" | "store">,
  init: Pick<ProviderInit, "faults" | "maxConcurrentUploads" | "maxUploadsPerPeer">,
  publisher: Publisher,
  uploads: UploadSlots,
  request: FastifyRequest<{ Params: { hash: string } }>,
  reply: FastifyReply,
): Promise<FastifyReply> {
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
    // A failed upload is answered (or not, when the client hung up) by receiveUpload.
    if (!(await receiveUpload(c, init, uploads, auth, row, request, reply))) return reply;
  } else {
    request.raw.resume();
  }
  return answerPublished(c, init, publisher, row, reply);
}

/**
 * Receives an accepted proposal's piece into the blob store and marks the proposal stored,
 * holding one of the {@link UploadSlots} while it streams.
 *
 * @returns true once the piece is stored; false when the upload failed, its error then sent on
 *   `reply` (or nothing sent when the client hung up). A boolean, not the reply: a fastify reply
 *   is a thenable, which `await` would unwrap.
 * @throws HttpError 400 WrongPieceSize (Content-Length is not the payload size), 409
 *   UploadInProgress, 503 TooManyUploads (before any byte is read).
 */
async function receiveUpload(
  c: Pick<ProviderComponents, "blobs" | "logger" | "metrics" | "store">,
  init: Pick<ProviderInit, "faults" | "maxConcurrentUploads" | "maxUploadsPerPeer">,
  uploads: UploadSlots,
  auth: VerifiedRequest,
  row: ProposalRow,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<boolean> {
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
    return true;
  } catch (err) {
    c.metrics.uploads.inc({ result: err instanceof HttpError ? err.code : "aborted" });
    // A client that hung up gets no answer; a finished body leaves the socket open.
    if (!request.raw.socket.destroyed) sendError(reply, err, request);
    return false;
  } finally {
    uploads.total--;
    uploads.perPeer.set(peer, (uploads.perPeer.get(peer) ?? 1) - 1);
    uploads.proposals.delete(row.proposalHash);
  }
}

/**
 * Waits for a stored proposal's deal to be published and answers the upload: 200
 * {@link UploadResponse}, or 202 "stored" with the provider's acceptance on a publish timeout.
 *
 * @throws HttpError 422 PublishFailed when the market skipped the proposal.
 */
async function answerPublished(
  c: Pick<ProviderComponents, "clients" | "contracts">,
  init: Pick<ProviderInit, "faults">,
  publisher: Publisher,
  row: ProposalRow,
  reply: FastifyReply,
): Promise<FastifyReply> {
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
}

/**
 * This provider's signed acceptance of a proposal whose piece it holds (ECDSA signatures are
 * deterministic, so it is computed on demand rather than stored).
 */
export function acceptance(
  c: Pick<ProviderComponents, "clients" | "contracts">,
  proposal: StorageDealProposal,
): Promise<Hex> {
  return signAcceptance(c.clients.account, c.clients.chain.id, c.contracts.storageMarket, proposal);
}

/** The answer to an upload whose deal is published. */
function uploadResponse(proposalHash: Hex, dealId: bigint, txHash: Hex, pieceCid: string): UploadResponse {
  return { proposalHash, dealId: dealId.toString(), txHash, pieceCid };
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
