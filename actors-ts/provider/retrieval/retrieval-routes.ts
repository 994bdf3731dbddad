import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { randomBytes } from "node:crypto";
import { Transform, type Readable } from "node:stream";
import { toHex, type Address, type Hex } from "viem";
import { HttpError } from "../../core/http-errors";
import { parsePieceCidV2 } from "../../piece/piece-cid";
import { getChannel } from "../../chain/payment-channels/actions";
import {
  decodeVoucherHeader,
  signedVoucherSchema,
  verifyVoucher,
  type SignedVoucher,
} from "../../chain/payment-channels/vouchers";
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

/** Size of interval `n` (0-based): Filecoin's paymentInterval grown by paymentIntervalIncrease. */
export function intervalBytes(
  row: Pick<RetrievalRow, "intervalBytes" | "intervalIncrease" | "maxUnpaid">,
  n: number,
): number {
  return Math.min(row.intervalBytes + n * row.intervalIncrease, row.maxUnpaid);
}

/**
 * Seed 001's RetrievalProvider over HTTP, paid through PaymentChannels: a client opens a
 * retrieval deal on its channel to this provider and gets a lane; it then asks for the piece an
 * interval at a time, each request carrying a voucher whose cumulative amount pays for every
 * byte before the requested offset. The provider checks the voucher (EIP-712 signature by the
 * channel's payer, channel, lane, nonce, amount, the channel's on-chain funds) before sending
 * more, keeps the best voucher per lane, and never sends more than `maxUnpaidBytes` beyond what
 * is paid.
 */
export function registerRetrievalRoutes(
  app: FastifyInstance,
  c: Pick<ProviderComponents, "blobs" | "clients" | "contracts" | "logger" | "metrics" | "store">,
  init: Pick<ProviderInit, "faults" | "maxUnpaidBytes" | "retrievalAsk">,
  retrievals: RetrievalStore,
): void {
  app.get<{ Params: { pieceCid: string } }>(PROVIDER_PATHS.pieceTree(":pieceCid"), (request, reply) =>
    servePieceTree(c, request, reply),
  );
  app.post(PROVIDER_PATHS.retrievals, (request, reply) => openRetrieval(c, init, retrievals, request, reply));
  app.get<{ Params: { id: string }; Querystring: { offset?: string } }>(
    PROVIDER_PATHS.retrievalData(":id"),
    (request, reply) => serveRetrievalData(c, init, retrievals, request, reply),
  );
  app.post<{ Params: { id: string } }>(PROVIDER_PATHS.retrievalPayment(":id"), (request, reply) =>
    acceptPayment(c, retrievals, request, reply),
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
  const maxUnpaid = init.maxUnpaidBytes ?? Number(ask.paymentIntervalBytes);
  const auth = await authenticate(c, request);
  const body = openRetrievalRequestSchema.parse(request.body);
  const piece = heldPiece(c, body.pieceCid);
  const root = piece?.root as Hex;
  if (!piece) {
    throw new HttpError(404, "PieceNotFound", "this provider does not hold the piece", { pieceCid: body.pieceCid });
  }
  const end = body.length === undefined ? piece.payloadSize : body.offset + body.length;
  if (body.offset >= piece.payloadSize || end > piece.payloadSize) {
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
 * before `offset` (a voucher sent when nothing is owed yet is checked too). Headers
 * `x-rm-offset` and `x-rm-interval` say which interval it is; the configured faults apply.
 *
 * @throws HttpError 404 RetrievalNotFound, 403 NotRetrievalClient, 416 RangeNotSatisfiable, 402
 *   PaymentRequired (no readable voucher) or the voucher's refusal (see {@link acceptVoucher}).
 */
async function serveRetrievalData(
  c: Pick<ProviderComponents, "blobs" | "clients" | "contracts" | "logger" | "metrics" | "store">,
  init: Pick<ProviderInit, "faults">,
  retrievals: RetrievalStore,
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
  if (owed > 0n || header) {
    let signed: SignedVoucher;
    try {
      signed = decodeVoucherHeader(Array.isArray(header) ? header[0] : (header ?? ""));
    } catch {
      throw new HttpError(402, "PaymentRequired", "a voucher paying for the bytes before this offset is required", {
        required: owed.toString(),
      });
    }
    await acceptVoucher(c, retrievals, row, signed, owed);
  }
  const length = Math.min(intervalBytes(row, row.intervalsServed), row.endOffset - offset);
  retrievals.recordServed(row.id, offset + length);
  c.metrics.bytesServed.inc({ paid: "voucher" }, length);
  reply
    .type("application/octet-stream")
    .header("content-length", length)
    .header("x-rm-offset", offset)
    .header("x-rm-interval", row.intervalsServed);
  const stream = c.blobs.read(pieceKey(row.root), { start: offset, end: offset + length - 1 });
  return reply.send(applyFaults(c, init, stream, length));
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
  request: FastifyRequest<{ Params: { id: string } }>,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const auth = await authenticate(c, request);
  const row = ownRetrieval(retrievals, request.params.id, auth.signer);
  const signed = signedVoucherSchema.parse(request.body);
  await acceptVoucher(c, retrievals, row, signed, 0n);
  return reply.send({ accepted: true, amount: signed.voucher.amount.toString() });
}

/**
 * GET retrieval(:id): the retrieval's progress: bytes sent, intervals served, the amount its best
 * voucher pays and how much of it is redeemed.
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

function ownRetrieval(retrievals: RetrievalStore, id: string, signer: Address): RetrievalRow {
  const row = retrievals.get(id);
  if (!row) throw new HttpError(404, "RetrievalNotFound", "no such retrieval", { retrievalId: id });
  if (row.client.toLowerCase() !== signer.toLowerCase()) {
    throw new HttpError(403, "NotRetrievalClient", "this retrieval belongs to another client", { retrievalId: id });
  }
  return row;
}

/**
 * Checks a voucher for a retrieval and keeps it as the lane's best.
 *
 * @param required Cumulative amount the voucher must at least carry.
 * @throws HttpError 402 naming the failed check.
 */
async function acceptVoucher(
  c: Pick<ProviderComponents, "clients" | "contracts">,
  retrievals: RetrievalStore,
  row: RetrievalRow,
  signed: SignedVoucher,
  required: bigint,
): Promise<void> {
  const v = signed.voucher;
  const refuse = (code: string, message: string, details: Record<string, string> = {}) =>
    new HttpError(402, code, message, { retrievalId: row.id, ...details });
  if (v.channelId !== row.channelId) {
    throw refuse("VoucherWrongChannel", "voucher is for another channel", { channelId: v.channelId.toString() });
  }
  if (v.lane !== row.lane) throw refuse("VoucherWrongLane", "voucher is for another lane", { lane: v.lane.toString() });
  if (v.timeLockMin !== 0n || v.timeLockMax !== 0n || BigInt(v.secretHash) !== 0n || v.minSettleEpoch !== 0n) {
    throw refuse("VoucherUnsupported", "retrieval vouchers carry no time lock, secret or settle bound");
  }
  const best = retrievals.bestVoucher(v.channelId, v.lane);
  if (best && v.nonce <= best.voucher.nonce) {
    throw refuse("VoucherNonceReplayed", "voucher nonce is not above the last accepted one", {
      nonce: v.nonce.toString(),
      lastNonce: best.voucher.nonce.toString(),
    });
  }
  if (best && v.amount < best.voucher.amount) {
    throw refuse("VoucherAmountLowered", "voucher lowers the lane's amount", {
      amount: v.amount.toString(),
      previous: best.voucher.amount.toString(),
    });
  }
  if (v.amount < required) {
    throw refuse("VoucherTooLow", "voucher does not pay for the bytes already sent", {
      amount: v.amount.toString(),
      required: required.toString(),
    });
  }
  const channel = await getChannel(c.clients, c.contracts, v.channelId);
  if (!(await verifyVoucher(c.clients, c.contracts.paymentChannels, channel.payer, signed))) {
    throw refuse("VoucherBadSignature", "voucher is not signed by the channel's payer", { payer: channel.payer });
  }
  const owedTotal = retrievals.otherLanesOwed(v.channelId, v.lane) + v.amount;
  if (channel.collected || owedTotal > channel.funds) {
    throw refuse("ChannelUnderfunded", "the channel's funds do not cover its vouchers", {
      funds: channel.funds.toString(),
      owed: owedTotal.toString(),
    });
  }
  retrievals.saveVoucher(signed);
}
