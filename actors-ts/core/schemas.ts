import { z } from "zod";
import { getAddress, isAddress, type Hex } from "viem";

/**
 * zod schemas for values that cross process boundaries (HTTP bodies, config files, CLI flags).
 */

/** A bigint given as a decimal string, a safe integer, or a bigint. */
export const zBigint = z.union([
  z.bigint(),
  z
    .number()
    .int()
    .safe()
    .transform((n) => BigInt(n)),
  z
    .string()
    .regex(/^-?\d+$/, "expected a decimal integer")
    .transform((s) => BigInt(s)),
]);

/**
 * A non-negative bigint below 2^bits: the range of the Solidity `uint<bits>` it will be passed as,
 * so an out-of-range value is a 400 at the boundary, not an ABI encoding error deep inside.
 */
export function zUintN(bits: 8 | 16 | 32 | 64 | 128 | 256): z.ZodType<bigint, unknown> {
  const limit = 1n << BigInt(bits);
  return zBigint.refine((v) => v >= 0n && v < limit, `expected an integer in [0, 2^${bits})`);
}

/** A non-negative bigint that fits a `uint256`. */
export const zUint = zUintN(256);

/** A non-negative bigint that fits a `uint64` (epochs, piece sizes, lanes). */
export const zUint64 = zUintN(64);

/**
 * A non-negative integer written as a decimal string, kept as the string: how ids, amounts and
 * epochs travel in JSON responses (at most 78 digits, the length of 2^256).
 */
export const zDecimalString = z.string().regex(/^\d{1,78}$/, "expected a decimal integer string");

/** A byte count or offset in a JSON response: a non-negative safe integer. */
export const zByteCount = z.number().int().nonnegative().safe();

/** A checksummed 20-byte address (any case accepted). */
export const zAddress = z
  .string()
  .refine((s) => isAddress(s, { strict: false }), "expected a 0x-prefixed 20-byte address")
  .transform((s) => getAddress(s));

/** 0x-prefixed hex of exactly `bytes` bytes. */
export function zHexBytes(bytes: number): z.ZodType<Hex, string> {
  return z
    .string()
    .regex(new RegExp(`^0x[0-9a-fA-F]{${bytes * 2}}$`), `expected 0x-prefixed ${bytes}-byte hex`)
    .transform((s) => s.toLowerCase() as Hex);
}

/** 0x-prefixed hex of any even length. */
export const zHex = z
  .string()
  .regex(/^0x([0-9a-fA-F]{2})*$/, "expected 0x-prefixed hex")
  .transform((s) => s as Hex);
