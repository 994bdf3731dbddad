import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from "fastify";
import { ZodError } from "zod";
import type { Address, Hex } from "viem";
import { RepairMarketError } from "./errors";
import { HttpError, type HttpErrorBody } from "./http-errors";
import { RequestAuthError, verifyRequest, type VerifiedRequest } from "./signed-request";
import type { Logger } from "./logger";

declare module "fastify" {
  interface FastifyRequest {
    /** The exact JSON body bytes, kept to check the signed body hash. */
    rawBody?: Buffer;
  }
}

/**
 * A daemon's fastify instance (provider, repair miner, dealbot): JSON bodies kept raw (their SHA-256 is signed), octet-stream
 * bodies left unread for streaming handlers, errors turned into `{ error, message, details }`.
 * fastify because it validates and bounds bodies, streams without buffering, and logs with pino.
 */
export function createHttpServer(ctx: { logger: Logger; config: { maxJsonBodyBytes: number } }): FastifyInstance {
  const loggerInstance: FastifyBaseLogger = ctx.logger.child({ component: "http" });
  const app = Fastify({
    loggerInstance,
    bodyLimit: ctx.config.maxJsonBodyBytes,
    // Request logs are written by the daemons' own hooks where they matter (fastify 5.12's
    // LogController; the top-level disableRequestLogging is deprecated and warns FSTDEP023).
    logController: new LogController({ disableRequestLogging: true }),
  });
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (request, body, done) => {
    request.rawBody = body as Buffer;
    try {
      done(null, body.length === 0 ? {} : JSON.parse(body.toString("utf8")));
    } catch {
      done(new HttpError(400, "InvalidJson", "request body is not valid JSON"), undefined);
    }
  });
  // Streaming handlers read request.raw themselves.
  app.addContentTypeParser("application/octet-stream", (_request, _payload, done) => done(null));
  app.setErrorHandler((err, request, reply) => sendError(reply, err, request));
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, new HttpError(404, "NotFound", `no route ${request.method} ${request.url}`), request),
  );
  return app;
}

/**
 * Closes a daemon's server: no new connections, idle keep-alive ones closed, requests in flight
 * given up to `graceMs` (ms) to finish, then every connection still open cut. Without the cut, a
 * response stalled on a client that stopped reading (one that found a chunk corrupt and gave up)
 * held `close()` — and so a daemon's stop and its SIGTERM — until the socket timed out.
 */
export async function closeServer(app: FastifyInstance, graceMs = 5000): Promise<void> {
  const cut = setTimeout(() => app.server.closeAllConnections(), graceMs);
  try {
    await app.close();
  } finally {
    clearTimeout(cut);
  }
}

/** Replies with the JSON error body for `err`. */
export function sendError(reply: FastifyReply, err: unknown, request?: FastifyRequest): FastifyReply {
  let status = 500;
  let body: HttpErrorBody = { error: "InternalError", message: "internal error" };
  if (err instanceof HttpError) {
    status = err.statusCode;
    body = { error: err.code, message: err.shortMessage, details: jsonDetails(err.details) };
  } else if (err instanceof RepairMarketError && UNAVAILABLE_ERRORS.has(err.name)) {
    // The chain, not the request: the caller may try again once it is back.
    status = 503;
    body = { error: err.name, message: err.shortMessage };
  } else if (err instanceof RequestAuthError) {
    status = 401;
    body = { error: err.reason, message: err.shortMessage, details: jsonDetails(err.details) };
  } else if (err instanceof ZodError) {
    status = 400;
    const issue = err.issues[0];
    body = { error: "InvalidRequest", message: `${issue?.path.join(".") || "body"}: ${issue?.message}` };
  } else if ((err as { statusCode?: number }).statusCode && (err as { statusCode: number }).statusCode < 500) {
    const e = err as { statusCode: number; code?: string; message: string };
    status = e.statusCode;
    body = { error: e.code ?? `HTTP${status}`, message: e.message };
  } else {
    request?.log.error({ err }, "request failed");
  }
  return reply.code(status).type("application/json").send(body);
}

/** Errors that mean the daemon cannot act on the chain now (answered 503, not 500). */
const UNAVAILABLE_ERRORS = new Set(["RpcUnavailableError", "ChainHaltedError"]);

/**
 * While `haltedReason()` gives a reason, every request that would change state (any method but
 * GET and HEAD) is answered 503 `{ error: "ChainHalted", message: reason }` before its handler
 * runs: a halted daemon takes no deals, uploads or payments.
 */
export function refuseWhileHalted(app: FastifyInstance, haltedReason: () => string | undefined): void {
  app.addHook("onRequest", async (request, reply) => {
    if (request.method === "GET" || request.method === "HEAD") return;
    const reason = haltedReason();
    if (reason === undefined) return;
    const body: HttpErrorBody = { error: "ChainHalted", message: `this daemon is halted: ${reason}` };
    return reply.code(503).type("application/json").send(body);
  });
}

/** Sends a `/healthz` answer: its status (200 or 503) and body. */
export function sendHealth(reply: FastifyReply, answer: { statusCode: number; body: unknown }): FastifyReply {
  return reply.code(answer.statusCode).type("application/json").send(answer.body);
}

function jsonDetails(details: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(details).map(([k, v]) => [k, typeof v === "bigint" ? v.toString() : v]));
}

/**
 * Verifies the request's signature headers against this daemon's address, recording the
 * nonce. For JSON bodies the raw bytes are checked here; streamed bodies are checked by their
 * handler against the returned `bodySha256`.
 *
 * @throws RequestAuthError
 */
export function authenticate(
  ctx: {
    clients: { account: { address: Address } };
    store: { useNonce(signer: Address, nonce: string, expiresAt: number): boolean };
  },
  request: FastifyRequest,
  options: { streamedBody?: boolean } = {},
): Promise<VerifiedRequest> {
  return verifyRequest(
    request.headers,
    {
      method: request.method,
      path: request.url,
      body: options.streamedBody ? undefined : (request.rawBody ?? new Uint8Array()),
      self: ctx.clients.account.address,
    },
    (signer, nonce, expiresAt) => ctx.store.useNonce(signer, nonce, expiresAt),
  );
}

/**
 * GET /manifests/:droot, as provider and repair miner both serve it: the stored manifest's JSON as
 * stored (the reader verifies it against the droot).
 *
 * @throws HttpError 404 ManifestNotFound.
 */
export async function serveStoredManifest(
  store: { manifest(droot: Hex): string | undefined },
  request: FastifyRequest<{ Params: { droot: string } }>,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const json = store.manifest(request.params.droot as Hex);
  if (!json)
    throw new HttpError(404, "ManifestNotFound", "no manifest for this droot", { droot: request.params.droot });
  return reply.type("application/json").send(json);
}
