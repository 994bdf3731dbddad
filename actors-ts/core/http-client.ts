import { request, type Dispatcher } from "undici";
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

/** The peer answered with an error status. `code` is its machine-readable error, if any. */
export class PeerRejectedError extends RepairMarketError {
  override name = "PeerRejectedError" as const;
  constructor(
    readonly statusCode: number,
    readonly code: string,
    shortMessage: string,
    details: Record<string, string | number | undefined>,
  ) {
    super(shortMessage, { details: { statusCode, code, ...details } });
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
}

/**
 * Sends a request and returns the raw response for 2xx answers.
 *
 * @throws PeerUnreachableError when the connection fails.
 * @throws PeerRejectedError for non-2xx answers (the error body is read and reported).
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
  );
}

/** {@link httpCall} and parse the JSON answer. */
export async function httpJson<T>(call: HttpCall, context: CallContext): Promise<T> {
  const response = await httpCall(call, context);
  const text = await response.body.text();
  try {
    return JSON.parse(text) as T;
  } catch (cause) {
    void cause;
    throw new PeerRejectedError(
      response.statusCode,
      "InvalidJson",
      `${context.stage}: ${context.peer} answered invalid JSON`,
      {
        peer: context.peer,
        stage: context.stage,
      },
    );
  }
}
