import { createHash, randomBytes } from "node:crypto";
import { getAddress, isAddress, recoverMessageAddress, type Address, type Hex } from "viem";
import type { LocalAccount } from "viem/accounts";
import { RepairMarketError } from "./errors";

/**
 * Requests that change state or cost money carry the sender's signature (DESIGN.md
 * "Transport"): an EIP-191 personal signature over
 *
 *   repair-market request v1 \n METHOD \n path?query \n sha256(body) \n timestamp-ms \n nonce \n audience
 *
 * where `audience` is the address of the agent the request is for, so a request signed for one
 * provider cannot be replayed to another. The receiver rejects timestamps outside a window and
 * nonces it has seen.
 */

export const SIGNED_HEADERS = {
  address: "x-rm-address",
  timestamp: "x-rm-timestamp",
  nonce: "x-rm-nonce",
  bodySha256: "x-rm-body-sha256",
  audience: "x-rm-audience",
  signature: "x-rm-signature",
} as const;

/** Accepted clock difference between sender and receiver, ms. */
export const REQUEST_WINDOW_MS = 60_000;

/** SHA-256 of the empty body. */
export const EMPTY_BODY_SHA256 = createHash("sha256").digest("hex");

/** Why a signed request was refused; `reason` is a stable code for clients. */
export class RequestAuthError extends RepairMarketError {
  override name = "RequestAuthError" as const;
  constructor(
    readonly reason:
      "MissingHeaders" | "StaleTimestamp" | "ReplayedNonce" | "WrongAudience" | "BadSignature" | "BodyHashMismatch",
    shortMessage: string,
    details: Record<string, string | number | undefined> = {},
  ) {
    super(shortMessage, { details: { reason, ...details } });
  }
}

function canonical(fields: {
  method: string;
  path: string;
  bodySha256: string;
  timestamp: string;
  nonce: string;
  audience: string;
}): string {
  return [
    "repair-market request v1",
    fields.method.toUpperCase(),
    fields.path,
    fields.bodySha256,
    fields.timestamp,
    fields.nonce,
    fields.audience.toLowerCase(),
  ].join("\n");
}

/** Hex SHA-256 of a body. */
export function sha256Hex(body: Uint8Array | string): string {
  return createHash("sha256").update(body).digest("hex");
}

/**
 * Headers that authenticate a request from `account`.
 *
 * @param request.path Path with query string, exactly as sent.
 * @param request.body The body, or its hex SHA-256 for a streamed body.
 * @param request.audience Address of the receiving agent.
 */
export async function signRequest(
  account: LocalAccount,
  request: { method: string; path: string; body?: Uint8Array | string; bodySha256?: string; audience: Address },
): Promise<Record<string, string>> {
  const bodySha256 = request.bodySha256 ?? (request.body === undefined ? EMPTY_BODY_SHA256 : sha256Hex(request.body));
  const timestamp = String(Date.now());
  const nonce = randomBytes(16).toString("hex");
  const signature = await account.signMessage({
    message: canonical({
      method: request.method,
      path: request.path,
      bodySha256,
      timestamp,
      nonce,
      audience: request.audience,
    }),
  });
  return {
    [SIGNED_HEADERS.address]: account.address,
    [SIGNED_HEADERS.timestamp]: timestamp,
    [SIGNED_HEADERS.nonce]: nonce,
    [SIGNED_HEADERS.bodySha256]: bodySha256,
    [SIGNED_HEADERS.audience]: request.audience,
    [SIGNED_HEADERS.signature]: signature,
  };
}

/** A verified request's signer and the body hash it committed to. */
export interface VerifiedRequest {
  signer: Address;
  bodySha256: string;
  nonce: string;
  timestamp: number;
}

/**
 * Checks a request's signature headers. The body hash is checked by the caller (for a buffered
 * body here via `body`, for a streamed body once the stream ends).
 *
 * @param seenNonce Records (signer, nonce) and returns false when it was already recorded.
 * @throws RequestAuthError naming what is wrong.
 */
export async function verifyRequest(
  headers: Record<string, string | string[] | undefined>,
  request: { method: string; path: string; body?: Uint8Array | string; self: Address; now?: number },
  seenNonce: (signer: Address, nonce: string, expiresAt: number) => boolean,
): Promise<VerifiedRequest> {
  const get = (name: string): string | undefined => {
    const value = headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const address = get(SIGNED_HEADERS.address);
  const timestamp = get(SIGNED_HEADERS.timestamp);
  const nonce = get(SIGNED_HEADERS.nonce);
  const bodySha256 = get(SIGNED_HEADERS.bodySha256);
  const audience = get(SIGNED_HEADERS.audience);
  const signature = get(SIGNED_HEADERS.signature);
  if (!address || !timestamp || !nonce || !bodySha256 || !audience || !signature || !isAddress(address)) {
    throw new RequestAuthError("MissingHeaders", "request is not signed (x-rm-* headers missing or malformed)");
  }
  const now = request.now ?? Date.now();
  const sentAt = Number(timestamp);
  if (!Number.isFinite(sentAt) || Math.abs(now - sentAt) > REQUEST_WINDOW_MS) {
    throw new RequestAuthError("StaleTimestamp", "request timestamp is outside the accepted window", {
      timestamp,
      windowMs: REQUEST_WINDOW_MS,
    });
  }
  if (audience.toLowerCase() !== request.self.toLowerCase()) {
    throw new RequestAuthError("WrongAudience", "request was signed for another agent", { audience });
  }
  if (request.body !== undefined && sha256Hex(request.body) !== bodySha256) {
    throw new RequestAuthError("BodyHashMismatch", "body does not match its signed SHA-256");
  }
  let signer: Address;
  try {
    signer = await recoverMessageAddress({
      message: canonical({ method: request.method, path: request.path, bodySha256, timestamp, nonce, audience }),
      signature: signature as Hex,
    });
  } catch {
    throw new RequestAuthError("BadSignature", "request signature is malformed");
  }
  if (signer.toLowerCase() !== address.toLowerCase()) {
    throw new RequestAuthError("BadSignature", "request signature does not match x-rm-address", { address });
  }
  if (!seenNonce(getAddress(address), nonce, sentAt + REQUEST_WINDOW_MS)) {
    throw new RequestAuthError("ReplayedNonce", "request nonce was already used", { nonce });
  }
  return { signer: getAddress(address), bodySha256, nonce, timestamp: sentAt };
}
