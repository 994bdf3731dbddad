import { gunzipSync, gzipSync } from "node:zlib";
import { createHash } from "node:crypto";
import { getAddress, recoverMessageAddress, toHex, type Address, type Hex } from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import { z } from "zod";
import { RepairMarketError } from "../core/errors";
import { zHex } from "../core/schemas";

/**
 * Holdings advertisements (seed 002 "epoch slots"): a provider publishes which pieces it holds,
 * as a full snapshot or as the changes since a sequence number, gzip-compressed and signed by
 * its key (EIP-191 over the SHA-256 of the compressed bytes), so a repair miner can ask for a
 * piece only from a provider that claims it, and hold the provider to the claim.
 *
 * Wire shape (`GET /holdings[?since=seq]`): `{ payload: base64(gzip(JSON)), signature }` where
 * the JSON is {@link HoldingsPayload}.
 */

export const holdingsPayloadSchema = z.object({
  version: z.literal(1),
  provider: z.string(),
  chainId: z.number().int(),
  /** Head of the provider's holdings log covered by this advertisement. */
  seq: z.number().int().nonnegative(),
  /** null for a full snapshot; otherwise the sequence the changes start after. */
  since: z.number().int().nonnegative().nullable(),
  /** Unix ms. */
  issuedAt: z.number().int(),
  /** PieceCIDs (v2) held (full) or newly held (changes). */
  added: z.array(z.string()),
  /** PieceCIDs no longer held (changes only). */
  removed: z.array(z.string()),
});
export type HoldingsPayload = z.infer<typeof holdingsPayloadSchema>;

/** A signed, compressed advertisement as served (base64 gzip payload, the provider's signature). */
export const signedHoldingsSchema = z.object({
  payload: z.string().max(64 * 1024 * 1024),
  signature: zHex,
});
export type SignedHoldings = z.output<typeof signedHoldingsSchema>;

/** The advertisement is malformed or not signed by the provider it names. */
export class HoldingsInvalidError extends RepairMarketError {
  override name = "HoldingsInvalidError" as const;
}

function digest(compressed: Uint8Array): Hex {
  return toHex(createHash("sha256").update(compressed).digest());
}

/** Where an advertisement's contents come from: the provider's holdings log (seed 002). */
export interface HoldingsLog {
  /** Every piece held now and the log's sequence number. */
  holdingsSnapshot(): { seq: number; pieceCids: string[] };
  /** Pieces added and removed after `since`, or undefined when the log no longer reaches back. */
  holdingsChanges(since: number): { seq: number; added: string[]; removed: string[] } | undefined;
}

/**
 * Builds this provider's advertisement: the changes since `since` when the log reaches back that
 * far, else a full snapshot.
 */
export async function advertiseHoldings(
  store: HoldingsLog,
  account: PrivateKeyAccount,
  chainId: number,
  since?: number,
): Promise<SignedHoldings> {
  const changes = since !== undefined ? store.holdingsChanges(since) : undefined;
  const snapshot = changes ? undefined : store.holdingsSnapshot();
  const payload: HoldingsPayload = {
    version: 1,
    provider: account.address,
    chainId,
    seq: changes?.seq ?? snapshot?.seq ?? 0,
    since: changes ? (since ?? null) : null,
    issuedAt: Date.now(),
    added: changes?.added ?? snapshot?.pieceCids ?? [],
    removed: changes?.removed ?? [],
  };
  const compressed = gzipSync(JSON.stringify(payload));
  const signature = await account.signMessage({ message: { raw: digest(compressed) } });
  return { payload: compressed.toString("base64"), signature };
}

/**
 * Checks an advertisement and returns its contents.
 *
 * @param expected The provider the advertisement was fetched from.
 * @throws HoldingsInvalidError when it does not decompress, parse, or recover to `expected`.
 */
export async function verifyHoldings(signed: SignedHoldings, expected: Address): Promise<HoldingsPayload> {
  let payload: HoldingsPayload;
  const compressed = Buffer.from(signed.payload ?? "", "base64");
  try {
    payload = holdingsPayloadSchema.parse(JSON.parse(gunzipSync(compressed).toString("utf8")));
  } catch (cause) {
    throw new HoldingsInvalidError("holdings advertisement is not valid gzip JSON", {
      cause,
      details: { provider: expected },
    });
  }
  let signer: Address;
  try {
    signer = await recoverMessageAddress({ message: { raw: digest(compressed) }, signature: signed.signature });
  } catch (cause) {
    throw new HoldingsInvalidError("holdings signature is malformed", { cause, details: { provider: expected } });
  }
  if (getAddress(signer) !== getAddress(expected) || getAddress(payload.provider) !== getAddress(expected)) {
    throw new HoldingsInvalidError("holdings advertisement is not signed by the provider", {
      details: { provider: expected, signer },
    });
  }
  return payload;
}
