import { recoverTypedDataAddress, type Address, type Hex, type TypedDataDomain } from "viem";
import type { LocalAccount } from "viem/accounts";
import { z } from "zod";
import type { ChainClients } from "../clients";
import { PAYMENT_CHANNELS_DOMAIN, VOUCHER_TYPES, type Voucher } from "../eip712";
import { zHex, zHexBytes, zUint, zUint64 } from "../../core/schemas";

/** The EIP-712 domain of a PaymentChannels deployment. */
export function channelsDomain(chainId: number, paymentChannels: Address): TypedDataDomain {
  return { ...PAYMENT_CHANNELS_DOMAIN, chainId, verifyingContract: paymentChannels } as const;
}

/** A voucher with its payer's signature, as it travels between agents. */
export interface SignedVoucher {
  voucher: Voucher;
  signature: Hex;
}

export const signedVoucherSchema = z.object({
  voucher: z.object({
    channelId: zUint,
    lane: zUint64,
    nonce: zUint64,
    amount: zUint,
    timeLockMin: zUint64,
    timeLockMax: zUint64,
    secretHash: zHexBytes(32),
    minSettleEpoch: zUint64,
  }),
  signature: zHex,
});

/** A plain voucher: cumulative `amount` on `lane`, no time lock, secret or settle bound. */
export function plainVoucher(channelId: bigint, lane: bigint, nonce: bigint, amount: bigint): Voucher {
  return {
    channelId,
    lane,
    nonce,
    amount,
    timeLockMin: 0n,
    timeLockMax: 0n,
    secretHash: `0x${"00".repeat(32)}`,
    minSettleEpoch: 0n,
  };
}

/** The payer's EIP-712 signature of `voucher`. */
export async function signVoucher(
  payer: LocalAccount,
  chainId: number,
  paymentChannels: Address,
  voucher: Voucher,
): Promise<SignedVoucher> {
  const signature = await payer.signTypedData({
    domain: channelsDomain(chainId, paymentChannels),
    types: VOUCHER_TYPES,
    primaryType: "Voucher",
    message: voucher,
  });
  return { voucher, signature };
}

/**
 * Whether `signed` carries the payer's EIP-712 signature, as PaymentChannels checks it
 * (OpenZeppelin SignatureChecker: ECDSA for an account, ERC-1271 for a contract). The ECDSA
 * recovery runs locally, so an account's voucher costs no RPC call (this runs for every paid
 * interval); only a signature that does not recover to the payer is asked of the chain, which
 * accepts it when the payer is a contract that says so (ERC-1271).
 *
 * @param payer The channel's payer.
 * @returns false for anything that is not the payer's valid signature.
 */
export async function verifyVoucher(
  c: Pick<ChainClients, "public">,
  paymentChannels: Address,
  payer: Address,
  signed: SignedVoucher,
): Promise<boolean> {
  const typed = {
    domain: channelsDomain(c.public.chain.id, paymentChannels),
    types: VOUCHER_TYPES,
    primaryType: "Voucher" as const,
    message: signed.voucher,
    signature: signed.signature,
  };
  try {
    if ((await recoverTypedDataAddress(typed)).toLowerCase() === payer.toLowerCase()) return true;
  } catch {
    // Not a 65-byte ECDSA signature: only a contract payer can accept it.
  }
  try {
    return await c.public.verifyTypedData({ address: payer, ...typed });
  } catch {
    return false;
  }
}

/** Header form of a signed voucher: base64 of its JSON (bigints as strings). */
export function encodeVoucherHeader(signed: SignedVoucher): string {
  return Buffer.from(JSON.stringify(signed, (_k, v) => (typeof v === "bigint" ? v.toString() : v))).toString("base64");
}

/** Parses {@link encodeVoucherHeader}'s output; throws a ZodError or SyntaxError when malformed. */
export function decodeVoucherHeader(header: string): SignedVoucher {
  return signedVoucherSchema.parse(JSON.parse(Buffer.from(header, "base64").toString("utf8")));
}
