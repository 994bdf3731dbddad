import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Hex } from "viem";
import { HttpError } from "../../core/http-errors";
import { verifyManifest } from "../../manifest/manifest";
import { PROVIDER_PATHS, type ProviderInfoResponse } from "../../protocol/provider-api";
import { healthResponse } from "../../protocol/health-api";
import type { ProviderComponents, ProviderInit } from "../components";
import { pieceKey } from "../../piece/piece-intake";
import { heldPiece } from "../held-piece";
import { authenticate } from "../../core/http-server";
import { advertiseHoldings, type SignedHoldings } from "../../protocol/holdings";
import { applyFaults } from "../retrieval/retrieval-routes";
import { SOFTWARE_VERSION as VERSION } from "../../core/version";
import { sendHealth, serveStoredManifest } from "../../core/http-server";

/** Parses a single `bytes=a-b` / `bytes=a-` / `bytes=-n` range against `size`. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  if (!header) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === "" && match[2] === "")) {
    throw new HttpError(416, "InvalidRange", "only one `bytes=start-end` range is supported", { range: header });
  }
  let start: number;
  let end: number;
  if (match[1] === "") {
    start = Math.max(0, size - Number(match[2]));
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === "" ? size - 1 : Math.min(Number(match[2]), size - 1);
  }
  if (start > end || start >= size) {
    throw new HttpError(416, "RangeNotSatisfiable", "range is outside the piece", { range: header, size });
  }
  return { start, end };
}

/**
 * Read side of the provider: pieces for their clients (with Range), manifests, health, asks and
 * metrics. A piece is served only from the committed blob store, never from a partial upload.
 */
export function registerPieceRoutes(
  app: FastifyInstance,
  c: Pick<
    ProviderComponents,
    "blobs" | "chainGuard" | "clients" | "contracts" | "logger" | "loops" | "metrics" | "store"
  >,
  init: Pick<ProviderInit, "faults" | "retrievalAsk" | "storageAsk">,
): void {
  app.get(PROVIDER_PATHS.health, (_request, reply) => sendHealth(reply, providerHealth(c)));
  app.get(PROVIDER_PATHS.info, () => providerInfo(c, init));
  app.get(PROVIDER_PATHS.metrics, (_request, reply) => serveMetrics(c, reply));
  app.get<{ Params: { pieceCid: string } }>(PROVIDER_PATHS.piece(":pieceCid"), (request, reply) =>
    servePiece(c, init, request, reply),
  );
  app.get<{ Querystring: { since?: string } }>(PROVIDER_PATHS.holdings, (request) => serveHoldings(c, request));
  app.get<{ Params: { droot: string } }>(PROVIDER_PATHS.manifest(":droot"), (request, reply) =>
    serveStoredManifest(c.store, request, reply),
  );
  app.put<{ Params: { droot: string } }>(PROVIDER_PATHS.manifest(":droot"), (request, reply) =>
    storeManifest(c, request, reply),
  );
}

/**
 * GET health (`protocol/health-api.ts`): the chain as the guard last saw it and every loop's last
 * round, from memory (no RPC call); 503 with the reason when the provider is halted, the
 * endpoint does not answer or a loop keeps failing.
 */
function providerHealth(
  c: Pick<ProviderComponents, "chainGuard" | "clients" | "loops">,
): ReturnType<typeof healthResponse> {
  return healthResponse({
    role: "provider",
    version: VERSION,
    address: c.clients.account.address,
    chain: c.chainGuard.status(),
    loops: c.loops.snapshot(),
    stale: c.loops.stale(),
  });
}

/** GET info: the provider's {@link ProviderInfoResponse} (address, market, storage and retrieval asks). */
async function providerInfo(
  c: Pick<ProviderComponents, "clients" | "contracts">,
  init: Pick<ProviderInit, "retrievalAsk" | "storageAsk">,
): Promise<ProviderInfoResponse> {
  const str = (o: Record<string, bigint>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v.toString()]));
  return {
    address: c.clients.account.address,
    chainId: c.clients.chain.id,
    storageMarket: c.contracts.storageMarket,
    storageAsk: str(init.storageAsk),
    retrievalAsk: str(init.retrievalAsk),
    version: VERSION,
  };
}

/** GET metrics: the Prometheus registry, with the stored bytes gauge brought up to date first. */
async function serveMetrics(
  c: Pick<ProviderComponents, "metrics" | "store">,
  reply: FastifyReply,
): Promise<FastifyReply> {
  c.metrics.storedBytes.set(
    c.store
      .pieces()
      .filter((p) => p.status === "ok")
      .reduce((s, p) => s + p.paddedSize, 0),
  );
  return reply.type(c.metrics.registry.contentType).send(await c.metrics.registry.metrics());
}

/**
 * GET piece(:pieceCid): the piece's payload bytes for a client of one of its deals, free of
 * charge, whole (200) or one `Range` (206), with the configured faults applied.
 *
 * @throws HttpError 400 InvalidPieceCid, 404 PieceNotFound, 403 NotDealClient, 416 InvalidRange
 *   or RangeNotSatisfiable.
 */
async function servePiece(
  c: Pick<ProviderComponents, "blobs" | "clients" | "logger" | "metrics" | "store">,
  init: Pick<ProviderInit, "faults">,
  request: FastifyRequest<{ Params: { pieceCid: string } }>,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const auth = await authenticate(c, request);
  const piece = heldPiece(c, request.params.pieceCid);
  if (!piece) {
    throw new HttpError(404, "PieceNotFound", "this provider does not hold the piece", {
      pieceCid: request.params.pieceCid,
    });
  }
  const root = piece.root;
  const clients = c.store.clientsOfPiece(root).map((c) => c.toLowerCase());
  if (!clients.includes(auth.signer.toLowerCase())) {
    throw new HttpError(403, "NotDealClient", "only clients of this piece's deals may fetch it without paying", {
      signer: auth.signer,
    });
  }
  const range = parseRange(request.headers.range, piece.payloadSize);
  reply.header("accept-ranges", "bytes").type("application/octet-stream");
  const served = range ? range.end - range.start + 1 : piece.payloadSize;
  c.metrics.bytesServed.inc({ paid: "client" }, served);
  if (range) {
    reply.code(206).header("content-range", `bytes ${range.start}-${range.end}/${piece.payloadSize}`);
  }
  reply.header("content-length", served);
  return reply.send(applyFaults(c, init, c.blobs.read(pieceKey(root), range), served));
}

/**
 * GET holdings: the signed holdings advertisement, a full snapshot or the changes after
 * `?since=<seq>`.
 *
 * @throws HttpError 400 InvalidSince.
 */
async function serveHoldings(
  c: Pick<ProviderComponents, "clients" | "store">,
  request: FastifyRequest<{ Querystring: { since?: string } }>,
): Promise<SignedHoldings> {
  const raw = request.query.since;
  if (raw !== undefined && !/^\d{1,15}$/.test(raw)) {
    throw new HttpError(400, "InvalidSince", "since must be a holdings sequence number", { since: raw });
  }
  return advertiseHoldings(
    c.store.holdings,
    c.clients.account,
    c.clients.chain.id,
    raw === undefined ? undefined : Number(raw),
  );
}

/**
 * PUT manifest(:droot): stores a file's manifest for a client with a deal on one of its pieces;
 * answers `{ stored: true, droot }`.
 *
 * @throws HttpError 422 InvalidManifest (it does not verify or hash to `droot`), 403 NotDealClient.
 */
async function storeManifest(
  c: Pick<ProviderComponents, "clients" | "store">,
  request: FastifyRequest<{ Params: { droot: string } }>,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const auth = await authenticate(c, request);
  let manifest;
  try {
    manifest = verifyManifest(request.body, request.params.droot as Hex);
  } catch (err) {
    throw new HttpError(422, "InvalidManifest", (err as Error).message.split("\n")[0], {
      droot: request.params.droot,
    });
  }
  const client = auth.signer.toLowerCase();
  const holds = manifest.pieces.some((p) => c.store.clientsOfPiece(p.root).some((c) => c.toLowerCase() === client));
  if (!holds) {
    throw new HttpError(
      403,
      "NotDealClient",
      "only a client with a deal on one of the file's pieces may store its manifest",
    );
  }
  c.store.putManifest(manifest.droot, JSON.stringify(manifest));
  return reply.send({ stored: true, droot: manifest.droot });
}
