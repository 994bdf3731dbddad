import type { Address } from "viem";
import type { LocalAccount } from "viem/accounts";
import type { z } from "zod";
import { httpJson } from "./http-client";
import { signRequest } from "./signed-request";

/** A peer agent: the address that must be the request's audience, and its HTTP endpoint. */
export interface SignedPeer {
  address: Address;
  endpoint: string;
}

/**
 * Sends `json` to `peer` with a signed-request header (`signRequest`: the sender's key over method,
 * path, body hash, audience and a fresh nonce) and returns the response body checked against
 * `schema`. Used for every signed JSON call between agents (proposals, manifests, repair deals).
 *
 * @param request.stage What the call is for, named in errors ("propose deal", "store manifest").
 * @param request.headersTimeoutMs How long to wait for the response headers, ms (http-client's
 *   default otherwise).
 * @throws PeerUnreachableError (connection), PeerRejectedError (non-2xx with the peer's code,
 *   `InvalidJson` or `InvalidResponse` when the body does not parse or fit `schema`).
 */
export async function sendSignedJson<S extends z.ZodType>(
  account: LocalAccount,
  peer: SignedPeer,
  request: { method: "POST" | "PUT"; path: string; stage: string; headersTimeoutMs?: number },
  json: string,
  schema: S,
): Promise<z.output<S>> {
  const { method, path, stage, headersTimeoutMs } = request;
  const headers = await signRequest(account, { method, path, body: json, audience: peer.address });
  return httpJson(
    {
      method,
      url: peer.endpoint + path,
      headers: { ...headers, "content-type": "application/json" },
      body: json,
      ...(headersTimeoutMs !== undefined ? { headersTimeoutMs } : {}),
    },
    { peer: peer.address, stage },
    schema,
  );
}
