import { request, type Dispatcher } from "undici";
import type { z } from "zod";
import { RepairMarketError } from "./errors";
import type { HttpErrorBody } from "./http-errors";

/**
 * HTTP calls between agents (undici). Failures say which peer, which stage and what happened —
 * never just "fetch failed".
 */

/** The peer could not be reached (refused, reset, timed out, DNS). */
export class PeerUnreachableError extends RepairMarketError {
  override name = "PeerUnreachableError" as const;
}

/**
 * The peer answered with an error status. `code` is its machine-readable error, if any, and
 * `peerDetails` the `details` object of its error body, unchecked: a caller that acts on them
 * parses them with the endpoint's schema in `protocol/`.
 */
export class PeerRejectedError extends RepairMarketError {
  override name = "PeerRejectedError" as const;
  constructor(
    readonly statusCode: number,
    readonly code: string,
    shortMessage: string,
    details: Record<string, string | number | undefined>,
    cause?: unknown,
    readonly peerDetails?: unknown,
  ) {
    super(shortMessage, { details: { statusCode, code, ...details }, cause });
  }
}

/** Who is called and why, for error messages. */
export interface CallContext {
  /** The peer (a provider address, a repair miner id). */
  peer: string;
  /** What the call is for ("propose deal", "upload piece", "fetch piece"). */
  stage: string;
}

export interface HttpCall {
  method: Dispatcher.HttpMethod;
  url: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array | NodeJS.ReadableStream;
  /** Milliseconds to wait for the response headers. */
  headersTimeoutMs?: number;
  /** Milliseconds allowed between body chunks. */
  bodyTimeoutMs?: number;
  signal?: AbortSignal;
  /** Statuses outside 2xx that are answers, not rejections (a health check's 503 with its body). */
  answerStatuses?: number[];
}

/**
 * Sends a request and returns the raw response for 2xx answers.
 *
 * @throws PeerUnreachableError when the connection fails.
 * @throws PeerRejectedError for non-2xx answers not in `call.answerStatuses` (the error body is
 *   read and reported).
 */
export async function httpCall(call: HttpCall, context: CallContext): Promise<Dispatcher.ResponseData> {
  let response: Dispatcher.ResponseData;
  try {
    response = await request(call.url, {
      method: call.method,
      headers: call.headers,
      body: call.body as Dispatcher.DispatchOptions["body"],
      headersTimeout: call.headersTimeoutMs ?? 30_000,
      bodyTimeout: call.bodyTimeoutMs ?? 60_000,
      signal: call.signal,
    });
  } catch (cause) {
    const code = (cause as { code?: string }).code;
    throw new PeerUnreachableError(`${context.stage}: cannot reach ${context.peer}`, {
      details: { peer: context.peer, stage: context.stage, url: call.url, code },
      cause,
    });
  }
  if (response.statusCode >= 200 && response.statusCode < 300) return response;
  if (call.answerStatuses?.includes(response.statusCode)) return response;
  let body: Partial<HttpErrorBody> = {};
  const text = await response.body.text().catch(() => "");
  try {
    body = JSON.parse(text) as HttpErrorBody;
  } catch {
    body = { message: text.slice(0, 200) };
  }
  throw new PeerRejectedError(
    response.statusCode,
    body.error ?? `HTTP${response.statusCode}`,
    `${context.stage}: ${context.peer} answered ${response.statusCode} ${body.error ?? ""} ${body.message ?? ""}`.trim(),
    { peer: context.peer, stage: context.stage, url: call.url },
    undefined,
    body.details,
  );
}

/**
 * {@link httpCall}, then parse the JSON answer and check it against `schema` (the wire shapes in
 * `protocol/`).
 *
 * @returns The parsed, validated body (`z.output` of the schema: decimal strings stay strings,
 *   addresses come back checksummed).
 * @throws PeerUnreachableError, PeerRejectedError as {@link httpCall}; PeerRejectedError with
 *   code `InvalidJson` when the 2xx body is not JSON, or `InvalidResponse` (naming the first
 *   field that is wrong) when it is not the shape `schema` describes. Both keep the cause.
 */
export async function httpJson<S extends z.ZodType>(
  call: HttpCall,
  context: CallContext,
  schema: S,
): Promise<z.output<S>> {
  const response = await httpCall(call, context);
  return parseJsonBody(await response.body.text(), schema, context, { statusCode: response.statusCode, url: call.url });
}

/**
 * Parses a 2xx answer's body read by the caller (as after {@link httpCall}) and checks it against
 * `schema`: the second half of {@link httpJson}.
 *
 * @throws PeerRejectedError `InvalidJson` or `InvalidResponse`, as {@link httpJson}.
 */
export function parseJsonBody<S extends z.ZodType>(
  text: string,
  schema: S,
  context: CallContext,
  response: { statusCode: number; url: string },
): z.output<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new PeerRejectedError(
      response.statusCode,
      "InvalidJson",
      `${context.stage}: ${context.peer} answered invalid JSON`,
      { peer: context.peer, stage: context.stage, url: response.url },
      cause,
    );
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join(".") || "(body)";
    throw new PeerRejectedError(
      response.statusCode,
      "InvalidResponse",
      `${context.stage}: ${context.peer} answered an unexpected shape at ${field}: ${issue?.message ?? "invalid"}`,
      { peer: context.peer, stage: context.stage, url: response.url, field },
      parsed.error,
    );
  }
  return parsed.data;
}
