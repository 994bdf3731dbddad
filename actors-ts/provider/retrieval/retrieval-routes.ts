import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { randomBytes } from "node:crypto";
import { Transform, type Readable } from "node:stream";
import { toHex, type Address, type Hex } from "viem";
import { HttpError } from "../../core/http-errors";
import { parsePieceCidV2 } from "../../piece/piece-cid";
import { getChannel } from "../../chain/payment-channels/actions";
import { ChannelCache } from "./channel-cache";
import { decodeVoucherHeader, signedVoucherSchema, type SignedVoucher } from "../../chain/payment-channels/vouchers";
import {
  PROVIDER_PATHS,
  VOUCHER_HEADER,
  openRetrievalRequestSchema,
  type OpenRetrievalResponse,
} from "../../protocol/provider-api";
import type { ProviderComponents, ProviderInit } from "../components";
import { pieceKey, treeKey } from "../../piece/piece-intake";
import { heldPiece } from "../held-piece";
import { authenticate } from "../../core/http-server";
import type { RetrievalRow, RetrievalStore } from "./retrieval-store";
import { acceptVoucher, grantInterval, maxUnpaidBytesOf } from "./retrieval-payment";
import { serveRangeProof, type RangeProofQuery } from "./range-proof-route";
import { planStream, planStreamBytes } from "./plan-stream";

/**
 * Seed 001's RetrievalProvider over HTTP, paid through PaymentChannels: a client opens a
 * retrieval deal on its channel to this provider and gets a lane; it then asks for the piece an
 * interval at a time, each request carrying a voucher whose cumulative amount pays for every
 * byte before the requested offset. The provider checks the voucher (EIP-712 signature by the
 * channel's payer, channel, lane, nonce, amount, the channel's on-chain funds) before sending
 * more and keeps the best voucher per lane. The unpaid allowance is the client's, not the lane's
 * (decisions 37): across all its lanes and channels a client is never sent more than
 * `maxUnpaidBytes` beyond what it paid, and only as far as its channel's free funds could pay.
 * What a client checks the bytes with is free: a piece's chunk roots, and the range proof of any
 * run of its quads (decisions 38).
 */
export function registerRetrievalRoutes(
  app: FastifyInstance,
  c: Pick<ProviderComponents, "blobs" | "clients" | "contracts" | "logger" | "metrics" | "store">,
  init: Pick<ProviderInit, "faults" | "maxUnpaidBytes" | "retrievalAsk">,
  retrievals: RetrievalStore,
): void {
  const channels = new ChannelCache(c);
  app.get<{ Params: { pieceCid: string } }>(PROVIDER_PATHS.pieceTree(":pieceCid"), (request, reply) =>
    servePieceTree(c, request, reply),
  );
  app.get<{ Params: { pieceCid: string }; Querystring: RangeProofQuery }>(
    PROVIDER_PATHS.pieceRangeProof(":pieceCid"),
    (request, reply) => serveRangeProof(c, request, reply),
  );
  app.post(PROVIDER_PATHS.retrievals, (request, reply) => openRetrieval(c, init, retrievals, request, reply));
  app.get<{ Params: { id: string }; Querystring: { offset?: string } }>(
    PROVIDER_PATHS.retrievalData(":id"),
    (request, reply) => serveRetrievalData(c, init, retrievals, channels, request, reply),
  );
  app.post<{ Params: { id: string } }>(PROVIDER_PATHS.retrievalPayment(":id"), (request, reply) =>
    acceptPayment(c, retrievals, channels, request, reply),
  );
  app.get<{ Params: { id: string } }>(PROVIDER_PATHS.retrieval(":id"), (request, reply) =>
    retrievalStatus(retrievals, request, reply),
  );
}

/**
 * GET pieceTree(:pieceCid): the chunk roots kept next to a piece the provider holds, with which a
 * client checks retrieved chunks as they arrive (and probes who holds the piece), free of charge.
 *
 * @throws HttpError 400 InvalidPieceCid, 404 PieceNotFound.
 */
async function servePieceTree(
  c: Pick<ProviderComponents, "blobs" | "store">,
  request: FastifyRequest<{ Params: { pieceCid: string } }>,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const root = rootOf(request.params.pieceCid);
  const piece = c.store.piece(root);
  if (!piece || piece.status !== "ok" || !c.blobs.has(treeKey(root))) {
    throw new HttpError(404, "PieceNotFound", "this provider does not hold the piece", {
      pieceCid: request.params.pieceCid,
    });
  }
  return reply.type("application/octet-stream").send(c.blobs.read(treeKey(root)));
}

/**
 * POST retrievals: opens a paid retrieval of a held piece's range on the signer's payment channel
 * to this provider, on the provider's retrieval ask; answers {@link OpenRetrievalResponse} with
 * the retrieval's lane and payment terms.
 *
 * @throws HttpError 400 InvalidPieceCid, 404 PieceNotFound, 416 RangeNotSatisfiable, 402
 *   ChannelNotToProvider, NotChannelPayer, ChannelClosing.
 */
async function openRetrieval(
  c: Pick<ProviderComponents, "blobs" | "clients" | "contracts" | "store">,
  init: Pick<ProviderInit, "maxUnpaidBytes" | "retrievalAsk">,
  retrievals: RetrievalStore,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const ask = init.retrievalAsk;
  const maxUnpaid = maxUnpaidBytesOf(init);
  const auth = await authenticate(c, request);
  const body = openRetrievalRequestSchema.parse(request.body);
  const piece = heldPiece(c, body.pieceCid);
  const root = piece?.root as Hex;
  if (!piece) {
    throw new HttpError(404, "PieceNotFound", "this provider does not hold the piece", { pieceCid: body.pieceCid });
  }
  if (body.plan && (body.offset !== 0 || body.length !== undefined)) {
    throw new HttpError(400, "InvalidPlan", "a sub-chunk plan takes no offset or length");
  }
  // A plan's retrieval runs over the plan's stream, [0, its length).
  const end = body.plan
    ? planStreamBytes(body.plan, piece.payloadSize)
    : body.length === undefined
      ? piece.payloadSize
      : body.offset + body.length;
  if (!body.plan && (body.offset >= piece.payloadSize || end > piece.payloadSize)) {
    throw new HttpError(416, "RangeNotSatisfiable", "range is outside the piece", { payloadSize: piece.payloadSize });
  }
  const channel = await getChannel(c.clients, c.contracts, body.channelId);
  if (channel.payee.toLowerCase() !== c.clients.account.address.toLowerCase()) {
    throw new HttpError(402, "ChannelNotToProvider", "the channel does not pay this provider", {
      channelId: body.channelId.toString(),
      payee: channel.payee,
    });
  }
  if (channel.payer.toLowerCase() !== auth.signer.toLowerCase()) {
    throw new HttpError(402, "NotChannelPayer", "the request must be signed by the channel's payer", {
      channelId: body.channelId.toString(),
    });
  }
  if (channel.collected || channel.settlingAt !== 0n) {
    throw new HttpError(402, "ChannelClosing", "the channel is settling or collected", {
      channelId: body.channelId.toString(),
    });
  }
  const row = retrievals.create(
    {
      id: randomBytes(12).toString("hex"),
      client: auth.signer,
      root,
      pieceCid: body.pieceCid,
      startOffset: body.offset,
      endOffset: end,
      channelId: body.channelId,
      pricePerByte: ask.pricePerByte,
      intervalBytes: Number(ask.paymentIntervalBytes),
      intervalIncrease: Number(ask.paymentIntervalIncreaseBytes),
      maxUnpaid,
      ...(body.plan ? { plan: body.plan } : {}),
    },
    channel.payer,
  );
  const response: OpenRetrievalResponse = {
    retrievalId: row.id,
    channelId: row.channelId.toString(),
    lane: row.lane.toString(),
    pricePerByte: row.pricePerByte.toString(),
    paymentIntervalBytes: row.intervalBytes,
    paymentIntervalIncreaseBytes: row.intervalIncrease,
    maxUnpaidBytes: row.maxUnpaid,
    startOffset: row.startOffset,
    endOffset: row.endOffset,
    payloadSize: piece.payloadSize,
  };
  return reply.send(response);
}

/**
 * GET retrievalData(:id)?offset=: the retrieval client's next interval of bytes from `offset`
 * (default the retrieval's start), once the voucher in the voucher header pays for every byte
 * before `offset` (a voucher sent when nothing is owed yet is checked too, and may pay ahead).
 * The interval is cut to what the client's unpaid allowance and its channel's free funds allow
 * ({@link grantInterval}). Headers `x-rm-offset` and `x-rm-interval` say which interval it is;
 * the configured faults apply.
 *
 * @throws HttpError 404 RetrievalNotFound, 403 NotRetrievalClient, 416 RangeNotSatisfiable, 402
 *   PaymentRequired (no readable voucher), the voucher's refusal (see {@link acceptVoucher}),
 *   UnpaidLimitReached or UnpaidExceedsFunds.
 */
async function serveRetrievalData(
  c: Pick<ProviderComponents, "blobs" | "clients" | "contracts" | "logger" | "metrics" | "store">,
  init: Pick<ProviderInit, "faults" | "maxUnpaidBytes" | "retrievalAsk">,
  retrievals: RetrievalStore,
  channels: ChannelCache,
  request: FastifyRequest<{ Params: { id: string }; Querystring: { offset?: string } }>,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const auth = await authenticate(c, request);
  const row = ownRetrieval(retrievals, request.params.id, auth.signer);
  const offset = request.query.offset === undefined ? row.startOffset : Number(request.query.offset);
  if (!Number.isInteger(offset) || offset < row.startOffset || offset >= row.endOffset) {
    throw new HttpError(416, "RangeNotSatisfiable", "offset is outside the retrieval's range", {
      offset: request.query.offset,
      start: row.startOffset,
      end: row.endOffset,
    });
  }
  const owed = row.pricePerByte * BigInt(offset - row.startOffset);
  const header = request.headers[VOUCHER_HEADER];
  let signed: SignedVoucher | undefined;
  if (owed > 0n || header) {
    try {
      signed = decodeVoucherHeader(Array.isArray(header) ? header[0] : (header ?? ""));
    } catch {
      throw new HttpError(402, "PaymentRequired", "a voucher paying for the bytes before this offset is required", {
        required: owed.toString(),
      });
    }
  }
  // Each step is retried on its own when a cached read of the channel refuses it for want of
  // funds: a voucher once taken must not be offered again (its nonce is spent).
  const voucher = signed;
  if (voucher) {
    await channels.withChannel(row.channelId, (channel) => acceptVoucher(c, retrievals, row, channel, voucher, owed));
  }
  const { bytes, interval } = await channels
    .withChannel(row.channelId, (channel) => grantInterval(init, retrievals, row, channel, offset))
    .catch((err: unknown) => {
      // Counted once, as answered (a refusal a fresher read of the channel lifted is not one).
      if (err instanceof HttpError) c.metrics.retrievalRefusals.inc({ code: err.code });
      throw err;
    });
  c.metrics.bytesServed.inc({ paid: "voucher" }, bytes);
  reply
    .type("application/octet-stream")
    .header("content-length", bytes)
    .header("x-rm-offset", offset)
    .header("x-rm-interval", interval);
  const stream = row.plan
    ? planStream(c.blobs, pieceKey(row.root), row.plan, heldPayloadSize(c, row), offset, bytes)
    : c.blobs.read(pieceKey(row.root), { start: offset, end: offset + bytes - 1 });
  return reply.send(applyFaults(c, init, stream, bytes));
}

/**
 * POST retrievalPayment(:id): a voucher sent on its own (e.g. paying for the last interval);
 * answers `{ accepted: true, amount }`.
 *
 * @throws HttpError 404 RetrievalNotFound, 403 NotRetrievalClient, 402 the voucher's refusal
 *   (see {@link acceptVoucher}).
 */
async function acceptPayment(
  c: Pick<ProviderComponents, "clients" | "contracts" | "store">,
  retrievals: RetrievalStore,
  channels: ChannelCache,
  request: FastifyRequest<{ Params: { id: string } }>,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const auth = await authenticate(c, request);
  const row = ownRetrieval(retrievals, request.params.id, auth.signer);
  const signed = signedVoucherSchema.parse(request.body);
  await channels.withChannel(row.channelId, (channel) => acceptVoucher(c, retrievals, row, channel, signed, 0n));
  return reply.send({ accepted: true, amount: signed.voucher.amount.toString() });
}

/**
 * GET retrieval(:id): the retrieval's progress: bytes sent (the end of the furthest interval, an
 * offset into the piece), intervals served, the bytes sent beyond what is paid, the amount its
 * best voucher pays and how much of it is redeemed.
 *
 * @throws HttpError 404 RetrievalNotFound.
 */
async function retrievalStatus(
  retrievals: RetrievalStore,
  request: FastifyRequest<{ Params: { id: string } }>,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const row = retrievals.get(request.params.id);
  if (!row) throw new HttpError(404, "RetrievalNotFound", "no such retrieval", { retrievalId: request.params.id });
  const best = retrievals.bestVoucher(row.channelId, row.lane);
  return reply.send({
    retrievalId: row.id,
    bytesSent: row.bytesSent,
    intervalsServed: row.intervalsServed,
    unpaidBytes: row.unpaidBytes,
    paid: (best?.voucher.amount ?? 0n).toString(),
    redeemed: (best?.redeemed ?? 0n).toString(),
  });
}

let servedBytes = 0;

/** The configured misbehaviour (config.faults) applied to a byte stream being served. */
export function applyFaults(
  c: Pick<ProviderComponents, "logger">,
  init: Pick<ProviderInit, "faults">,
  stream: Readable,
  length: number,
): Readable {
  const { corruptReads, dieAfterServedBytes } = init.faults;
  if (!corruptReads && dieAfterServedBytes === undefined) return stream;
  return stream.pipe(
    new Transform({
      transform(chunk: Buffer, _encoding, done) {
        const out = corruptReads ? Buffer.from(chunk) : chunk;
        if (corruptReads) for (let i = 0; i < out.length; i += 65_536) out[i] ^= 0xff;
        servedBytes += out.length;
        if (dieAfterServedBytes !== undefined && servedBytes >= dieAfterServedBytes) {
          c.logger.fatal({ servedBytes, length }, "fault injection: dying mid-transfer");
          process.kill(process.pid, "SIGKILL");
        }
        done(null, out);
      },
    }),
  );
}

function rootOf(pieceCid: string): Hex {
  try {
    return toHex(parsePieceCidV2(pieceCid).root);
  } catch {
    throw new HttpError(400, "InvalidPieceCid", "not a PieceCID v2", { pieceCid });
  }
}

/** The payload size of the piece a retrieval reads (its plan was checked against it). */
function heldPayloadSize(c: Pick<ProviderComponents, "blobs" | "store">, row: RetrievalRow): number {
  const piece = heldPiece(c, row.pieceCid);
  if (!piece)
    throw new HttpError(404, "PieceNotFound", "this provider no longer holds the piece", { pieceCid: row.pieceCid });
  return piece.payloadSize;
}

function ownRetrieval(retrievals: RetrievalStore, id: string, signer: Address): RetrievalRow {
  const row = retrievals.get(id);
  if (!row) throw new HttpError(404, "RetrievalNotFound", "no such retrieval", { retrievalId: id });
  if (row.client.toLowerCase() !== signer.toLowerCase()) {
    throw new HttpError(403, "NotRetrievalClient", "this retrieval belongs to another client", { retrievalId: id });
  }
  return row;
}
