import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { randomBytes } from "node:crypto";
import { getAddress, recoverTypedDataAddress, type Hex } from "viem";
import { HttpError } from "../core/http-errors";
import { getAsk, getBid } from "../chain/repair-market/reads";
import { REPAIR_DEAL_AUTHORIZATION_TYPES, REPAIR_MARKET_DOMAIN } from "../chain/eip712";
import { encodedPayloadBytes, verifyManifest, type Manifest } from "../manifest/manifest";
import { codingName, codingOnChain } from "../erasure/coding";
import { pieceKey, receivePiece } from "../piece/piece-intake";
import { authenticate, sendError } from "../core/http-server";
import {
  REPAIR_PATHS,
  repairProposalSchema,
  type RepairCommitResponse,
  type RepairDealStatusResponse,
  type RepairEscrowResponse,
  type RepairInfoResponse,
  type RepairProposalResponse,
} from "../protocol/repair-api";
import type { RepairComponents } from "./components";
import type { RepairConfig } from "./config";
import type { Intake } from "./intake";
import { SOFTWARE_VERSION as VERSION } from "../core/version";
import { serveStoredManifest } from "../core/http-server";

const BID_OPEN = 1;

/** What the intake routes use of the miner's services. */
export type IntakeRouteComponents = Pick<RepairComponents, "blobs" | "clients" | "contracts" | "logger" | "store">;

/** The miner's identity and ask, as the routes answer with them. */
export interface IntakeRouteInit {
  /** The miner's id (0 until the miner is found or created, just after the server listens). */
  minerId: () => bigint;
  /** The ask the miner keeps posted now (renewed while it runs). */
  askId: () => bigint;
  ask: RepairConfig["ask"];
  /** The escrow view (GET /repair/escrow); undefined until the miner's loops are set up. */
  escrow?: () => Promise<RepairEscrowResponse | undefined>;
  /**
   * Refuses a bid of this many encoded bytes that the pledge does not cover and the owner's policy
   * would not top up (`PledgeKeeper.check`: 409 InsufficientPledge); pledges nothing.
   */
  checkPledge: (bidSize: bigint) => Promise<void>;
}

/**
 * The miner's side of seed 000's "Market Flow (with repair)": tentative acceptance of a client's
 * proposal for its open bid, streamed piece uploads checked against the manifest's commitments,
 * and the commit that signs the deal on chain only once every byte checked out. Also the read
 * side: info, deal status, manifests (health is `miner-health.ts`).
 */
export function registerIntakeRoutes(
  app: FastifyInstance,
  c: IntakeRouteComponents,
  init: IntakeRouteInit,
  intake: Intake,
): void {
  app.get(REPAIR_PATHS.info, () => minerInfo(c, init));
  app.post(REPAIR_PATHS.proposals, (request, reply) => proposeRepairDeal(c, init, request, reply));
  app.put<{ Params: { id: string; index: string } }>(REPAIR_PATHS.piece(":id", ":index"), (request, reply) =>
    receiveRepairPiece(c, request, reply),
  );
  app.post<{ Params: { id: string } }>(REPAIR_PATHS.commit(":id"), (request) => commitRepairDeal(c, intake, request));
  app.get<{ Params: { dealId: string } }>(REPAIR_PATHS.deal(":dealId"), (request) => repairDealStatus(c, request));
  app.get(REPAIR_PATHS.deals, () => listRepairDeals(c));
  app.get(REPAIR_PATHS.escrow, async () => {
    const view = await init.escrow?.();
    if (!view) throw new HttpError(503, "NotReady", "the miner is still starting; try again shortly");
    return view;
  });
  app.get<{ Params: { droot: string } }>(REPAIR_PATHS.manifest(":droot"), (request, reply) =>
    serveStoredManifest(c.store, request, reply),
  );
}

/** GET info: the miner's {@link RepairInfoResponse}: its id, worker, posted ask and chain. */
async function minerInfo(
  c: Pick<IntakeRouteComponents, "clients">,
  init: Pick<IntakeRouteInit, "ask" | "askId" | "minerId">,
): Promise<RepairInfoResponse> {
  return {
    minerId: init.minerId().toString(),
    worker: c.clients.account.address,
    askId: init.askId().toString(),
    pricePerBytePerEpoch: init.ask.pricePerBytePerEpoch.toString(),
    maxSize: init.ask.maxSize.toString(),
    chainId: c.clients.chain.id,
    version: VERSION,
  };
}

/**
 * POST proposals: a client's proposal for its open bid, with the file's manifest and its signed
 * RepairDealAuthorization. Checks it ({@link checkBid}), stores the manifest and a "receiving"
 * intake, and answers 201 {@link RepairProposalResponse} with the pieces' upload paths; the same
 * client proposing the same file for the bid again gets its intake back with 200.
 *
 * @throws HttpError 422 InvalidManifest or EmptyFile, 409 BidAlreadyProposed (another proposal
 *   uses the bid), the bid's refusals (see {@link checkBid}), 409 InsufficientPledge (the pledge
 *   does not cover the deal; nothing is stored or pledged).
 */
async function proposeRepairDeal(
  c: Pick<IntakeRouteComponents, "clients" | "contracts" | "logger" | "store">,
  init: Pick<IntakeRouteInit, "minerId" | "checkPledge">,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<RepairProposalResponse> {
  const auth = await authenticate(c, request);
  const body = repairProposalSchema.parse(request.body);
  let manifest: Manifest;
  try {
    manifest = verifyManifest(body.manifest);
  } catch (err) {
    throw new HttpError(422, "InvalidManifest", (err as Error).message.split("\n")[0]);
  }
  if (manifest.fileSize === 0) {
    throw new HttpError(422, "EmptyFile", "the manifest describes a file of 0 bytes: there is nothing to store", {
      droot: manifest.droot,
    });
  }
  const existing = c.store.intakeForBid(body.bidId);
  if (existing) {
    if (existing.client !== auth.signer || existing.droot !== manifest.droot.toLowerCase()) {
      throw new HttpError(409, "BidAlreadyProposed", "another proposal already uses this bid", {
        bidId: body.bidId.toString(),
      });
    }
    reply.code(200);
    return acceptance(init, existing.id, manifest);
  }
  await checkBid(c, init, auth.signer, body, manifest);
  await init.checkPledge(encodedPayloadBytes(manifest));
  const id = randomBytes(8).toString("hex");
  c.store.putManifest(manifest.droot, JSON.stringify(manifest));
  c.store.insertIntake({
    id,
    client: auth.signer,
    bidId: body.bidId,
    askId: body.askId,
    deadline: body.deadline,
    clientSignature: body.clientSignature,
    droot: manifest.droot,
  });
  c.logger.info(
    { intakeId: id, bidId: body.bidId, client: auth.signer, droot: manifest.droot },
    "repair proposal accepted tentatively",
  );
  reply.code(201);
  return acceptance(init, id, manifest);
}

/**
 * PUT piece(:id, :index): the bid's client streams piece `index` of a receiving intake, checked
 * against the manifest's commitment while it arrives; answers `{ index, pieceCid, stored: true }`
 * (at once, draining the body, when the miner already holds the piece).
 *
 * @throws HttpError 404 ProposalNotFound or NoSuchPiece, 403 NotBidClient, 409
 *   ProposalNotReceiving, 400 WrongPieceSize; an upload that fails its checks is answered with
 *   its error (or not at all when the client hung up).
 */
async function receiveRepairPiece(
  c: Pick<IntakeRouteComponents, "blobs" | "clients" | "logger" | "store">,
  request: FastifyRequest<{ Params: { id: string; index: string } }>,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const auth = await authenticate(c, request, { streamedBody: true });
  const row = c.store.intake(request.params.id);
  if (!row) throw new HttpError(404, "ProposalNotFound", "no such repair proposal", { id: request.params.id });
  if (row.client !== auth.signer) throw new HttpError(403, "NotBidClient", "only the bid's client may upload pieces");
  if (row.status !== "receiving") {
    request.raw.resume();
    throw new HttpError(409, "ProposalNotReceiving", `repair proposal is ${row.status}`, { id: row.id });
  }
  const manifest = verifyManifest(c.store.manifest(row.droot), row.droot);
  const index = Number(request.params.index);
  const piece = manifest.pieces[index];
  if (!Number.isInteger(index) || !piece) {
    throw new HttpError(404, "NoSuchPiece", "the manifest has no piece with this index", {
      index: request.params.index,
    });
  }
  const length = Number(request.headers["content-length"]);
  if (length !== piece.payloadSize) {
    throw new HttpError(400, "WrongPieceSize", "Content-Length must equal the piece's payload size", {
      index,
      contentLength: request.headers["content-length"],
      payloadSize: piece.payloadSize,
    });
  }
  if (c.blobs.has(pieceKey(piece.root))) {
    request.raw.resume();
    return reply.send({ index, pieceCid: piece.pieceCid, stored: true });
  }
  try {
    await receivePiece(
      request.raw,
      {
        root: piece.root,
        payloadSize: piece.payloadSize,
        bodySha256: auth.bodySha256,
        proposalHash: row.droot,
      },
      c.blobs,
    );
  } catch (err) {
    if (request.raw.socket.destroyed) return reply;
    // Say which piece failed which check; the upload's temp file is already gone.
    const named =
      err instanceof HttpError
        ? new HttpError(err.statusCode, err.code, `piece ${index}: ${err.shortMessage}`, {
            ...err.details,
            index,
            pieceCid: piece.pieceCid,
          })
        : err;
    return sendError(reply, named, request);
  }
  c.logger.info({ intakeId: row.id, index, pieceCid: piece.pieceCid }, "piece received and its commitment checked");
  return reply.send({ index, pieceCid: piece.pieceCid, stored: true });
}

/**
 * POST commit(:id): once every piece is received, signs the repair deal on chain (see
 * {@link Intake.commit}; a deal already committed is answered again) and answers
 * {@link RepairCommitResponse}.
 *
 * @throws HttpError 404 ProposalNotFound, 403 NotBidClient, and the commit's own errors (409
 *   ProposalRejected, MissingPieces, BidTakenElsewhere, 422 ParityMismatch, AddDealReverted).
 */
async function commitRepairDeal(
  c: Pick<IntakeRouteComponents, "clients" | "store">,
  intake: Intake,
  request: FastifyRequest<{ Params: { id: string } }>,
): Promise<RepairCommitResponse> {
  const auth = await authenticate(c, request);
  const row = c.store.intake(request.params.id);
  if (!row) throw new HttpError(404, "ProposalNotFound", "no such repair proposal", { id: request.params.id });
  if (row.client !== auth.signer) throw new HttpError(403, "NotBidClient", "only the bid's client may commit");
  const committed = await intake.commit(row.id);
  return { dealId: committed.dealId.toString(), txHash: committed.txHash, droot: row.droot };
}

/**
 * GET deal(:dealId): the repair deal's {@link RepairDealStatusResponse}.
 *
 * @throws HttpError 400 InvalidDealId, 404 DealNotFound.
 */
async function repairDealStatus(
  c: Pick<IntakeRouteComponents, "store">,
  request: FastifyRequest<{ Params: { dealId: string } }>,
): Promise<RepairDealStatusResponse> {
  if (!/^\d{1,30}$/.test(request.params.dealId)) throw new HttpError(400, "InvalidDealId", "deal id must be a number");
  const status = dealStatus(c, BigInt(request.params.dealId));
  if (!status)
    throw new HttpError(404, "DealNotFound", "this miner has no such repair deal", { dealId: request.params.dealId });
  return status;
}

/** GET deals: every repair deal of the miner's, as {@link repairDealStatus} shows one. */
async function listRepairDeals(
  c: Pick<IntakeRouteComponents, "store">,
): Promise<(RepairDealStatusResponse | undefined)[]> {
  return c.store.deals().map((d) => dealStatus(c, d.dealId));
}

function acceptance(init: Pick<IntakeRouteInit, "minerId">, id: string, manifest: Manifest): RepairProposalResponse {
  return {
    intakeId: id,
    minerId: init.minerId().toString(),
    uploadPaths: manifest.pieces.map((_, i) => REPAIR_PATHS.piece(id, i)),
  };
}

/** Checks the bid, the ask and the client's authorization against the chain and the manifest. */
async function checkBid(
  c: Pick<IntakeRouteComponents, "clients" | "contracts">,
  init: Pick<IntakeRouteInit, "minerId">,
  signer: Hex,
  body: { bidId: bigint; askId: bigint; deadline: bigint; clientSignature: string },
  manifest: Manifest,
): Promise<void> {
  const bid = await getBid(c.clients, c.contracts, body.bidId);
  const details = { bidId: body.bidId.toString() };
  if (bid.state !== BID_OPEN) throw new HttpError(409, "BidNotOpen", "the bid is not open", details);
  if (getAddress(bid.client) !== getAddress(signer)) {
    throw new HttpError(403, "NotBidClient", "the request is not signed by the bid's client", details);
  }
  if (bid.droot.toLowerCase() !== manifest.droot.toLowerCase()) {
    throw new HttpError(422, "DrootMismatch", "the manifest does not hash to the bid's droot", {
      ...details,
      bidDroot: bid.droot,
      manifestDroot: manifest.droot,
    });
  }
  const pieceSize = BigInt(manifest.pieces[0].paddedSize);
  if (
    bid.codingParams.k !== manifest.k ||
    bid.codingParams.m !== manifest.m ||
    bid.codingParams.pieceSize !== pieceSize ||
    manifest.pieces.some((p) => BigInt(p.paddedSize) !== pieceSize)
  ) {
    throw new HttpError(422, "CodingMismatch", "the bid's coding parameters do not match the manifest", details);
  }
  const coding = codingOnChain(manifest.coding);
  if (bid.codingParams.scheme !== coding.scheme || bid.codingParams.d !== coding.d) {
    throw new HttpError(422, "CodingMismatch", "the bid's erasure code (scheme, d) is not the manifest's", {
      ...details,
      bidScheme: bid.codingParams.scheme,
      bidD: bid.codingParams.d,
      manifestCoding: codingName(manifest.coding),
    });
  }
  const payload = encodedPayloadBytes(manifest);
  if (bid.size !== payload) {
    throw new HttpError(422, "BidSizeMismatch", "the bid's size is not the manifest's encoded payload bytes", {
      ...details,
      bidSize: bid.size.toString(),
      manifestPayloadBytes: payload.toString(),
    });
  }
  const ask = await getAsk(c.clients, c.contracts, body.askId);
  if (ask.minerId !== init.minerId() || !ask.active) {
    throw new HttpError(422, "NotOurAsk", "the ask is not an active ask of this miner", {
      askId: body.askId.toString(),
    });
  }
  if (bid.pricePerBytePerEpoch < ask.pricePerBytePerEpoch || bid.size > ask.maxSize) {
    throw new HttpError(422, "AskDoesNotCoverBid", "the bid's price or size does not fit the ask", details);
  }
  const head = await c.clients.public.getBlockNumber();
  if (body.deadline <= head + 2n || bid.expiryEpoch <= head + 2n) {
    throw new HttpError(422, "DeadlineTooClose", "the authorization or the bid expires too soon", {
      ...details,
      head: head.toString(),
    });
  }
  const authorizer = await recoverTypedDataAddress({
    domain: { ...REPAIR_MARKET_DOMAIN, chainId: c.clients.chain.id, verifyingContract: c.contracts.repairMarket },
    types: REPAIR_DEAL_AUTHORIZATION_TYPES,
    primaryType: "RepairDealAuthorization",
    message: { bidId: body.bidId, askId: body.askId, minerId: init.minerId(), deadline: body.deadline },
    signature: body.clientSignature as Hex,
  }).catch(() => undefined);
  if (!authorizer || getAddress(authorizer) !== getAddress(bid.client)) {
    throw new HttpError(
      401,
      "BadAuthorization",
      "the RepairDealAuthorization is not signed by the bid's client",
      details,
    );
  }
}

/** The deal's pieces, repairs and evidence as the API shows them. */
export function dealStatus(
  c: Pick<IntakeRouteComponents, "store">,
  dealId: bigint,
): RepairDealStatusResponse | undefined {
  const deal = c.store.deal(dealId);
  if (!deal) return undefined;
  return {
    dealId: dealId.toString(),
    droot: deal.droot,
    status: deal.status,
    pieces: c.store.pieces(dealId).map((p) => ({
      index: p.index,
      pieceCid: p.pieceCid,
      state: p.state,
      provider: p.provider,
      storageDealId: p.storageDealId?.toString(),
      localCopy: p.localPath !== undefined,
      error: p.error,
      nextAttemptAt: p.error && p.nextAttemptAt > 0 ? new Date(p.nextAttemptAt).toISOString() : undefined,
    })),
    repairs: c.store.jobs
      .list()
      .filter((r) => r.dealId === dealId)
      .map((r) => ({
        id: r.id,
        indices: r.indices,
        status: r.status,
        bytesDownloaded: r.bytesDownloaded,
        method: r.method,
        faultEpoch: r.faultEpoch?.toString(),
        reassignedEpoch: r.reassignedEpoch?.toString(),
        confirmedEpoch: r.confirmedEpoch?.toString(),
        error: r.error,
        nextAttemptAt:
          r.status === "queued" && r.error && r.nextAttemptAt > 0 ? new Date(r.nextAttemptAt).toISOString() : undefined,
      })),
    evidence: c.store.evidence(dealId).map((e) => ({
      index: e.index,
      provider: e.provider,
      expected: e.expected,
      actual: e.actual,
      stage: e.stage,
    })),
  };
}
