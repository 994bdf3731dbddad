import type { FastifyInstance } from "fastify";
import type { Hex } from "viem";
import { HttpError } from "../../core/http-errors";
import { verifyManifest } from "../../manifest/manifest";
import { PROVIDER_PATHS, type ProviderInfoResponse } from "../../protocol/provider-api";
import type { ProviderComponents, ProviderInit } from "../components";
import { pieceKey } from "../../piece/piece-intake";
import { heldPiece } from "../held-piece";
import { authenticate } from "../../core/http-server";
import { advertiseHoldings } from "../../protocol/holdings";
import { applyFaults } from "../retrieval/retrieval-routes";
import { SOFTWARE_VERSION as VERSION } from "../../core/version";

/** The daemon's package version, reported by /info and /healthz. */

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
  c: Pick<ProviderComponents, "blobs" | "clients" | "contracts" | "logger" | "metrics" | "store">,
  init: Pick<ProviderInit, "faults" | "retrievalAsk" | "storageAsk">,
): void {
  app.get(PROVIDER_PATHS.health, async () => ({
    ok: true,
    address: c.clients.account.address,
    chainId: c.clients.chain.id,
    block: (await c.clients.public.getBlockNumber()).toString(),
    version: VERSION,
  }));

  app.get(PROVIDER_PATHS.info, async (): Promise<ProviderInfoResponse> => {
    const str = (o: Record<string, bigint>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v.toString()]));
    return {
      address: c.clients.account.address,
      chainId: c.clients.chain.id,
      storageMarket: c.contracts.storageMarket,
      storageAsk: str(init.storageAsk),
      retrievalAsk: str(init.retrievalAsk),
      version: VERSION,
    };
  });

  app.get(PROVIDER_PATHS.metrics, async (_request, reply) => {
    c.metrics.storedBytes.set(
      c.store
        .pieces()
        .filter((p) => p.status === "ok")
        .reduce((s, p) => s + p.paddedSize, 0),
    );
    return reply.type(c.metrics.registry.contentType).send(await c.metrics.registry.metrics());
  });

  app.get<{ Params: { pieceCid: string } }>(PROVIDER_PATHS.piece(":pieceCid"), async (request, reply) => {
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
  });

  // Holdings advertisement: full snapshot, or the changes after `?since=<seq>`.
  app.get<{ Querystring: { since?: string } }>(PROVIDER_PATHS.holdings, async (request) => {
    const raw = request.query.since;
    if (raw !== undefined && !/^\d{1,15}$/.test(raw)) {
      throw new HttpError(400, "InvalidSince", "since must be a holdings sequence number", { since: raw });
    }
    return advertiseHoldings(
      c.store,
      c.clients.account,
      c.clients.chain.id,
      raw === undefined ? undefined : Number(raw),
    );
  });

  app.get<{ Params: { droot: string } }>(PROVIDER_PATHS.manifest(":droot"), async (request, reply) => {
    const json = c.store.manifest(request.params.droot as Hex);
    if (!json)
      throw new HttpError(404, "ManifestNotFound", "no manifest for this droot", { droot: request.params.droot });
    return reply.type("application/json").send(json);
  });

  app.put<{ Params: { droot: string } }>(PROVIDER_PATHS.manifest(":droot"), async (request, reply) => {
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
  });
}
