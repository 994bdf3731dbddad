/**
 * JSON with bigints: agents exchange token amounts and epochs as decimal strings (JSON numbers
 * lose precision above 2^53). These helpers turn every bigint into a decimal string on the way
 * out; parsing back is the job of the receiving zod schema (see `zBigint` in ./schemas).
 */

/** `JSON.stringify` that writes bigints as decimal strings. */
export function stringifyJson(value: unknown, space?: number): string {
  return JSON.stringify(value, (_key, v) => (typeof v === "bigint" ? v.toString() : v), space);
}

/** Deep copy of `value` with every bigint turned into a decimal string (for `--json` output). */
export function toJsonValue<T>(value: T): unknown {
  return JSON.parse(stringifyJson(value));
}
