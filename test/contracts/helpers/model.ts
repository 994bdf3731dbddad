/**
 * Reference model of the market's payment rule, written independently of the contract: a deal
 * earns its price for every epoch of [from, to) inside a proven period.
 */
export function provenEpochsModel(
  anchor: bigint,
  period: bigint,
  proven: Set<bigint>,
  from: bigint,
  to: bigint,
): bigint {
  let sum = 0n;
  if (to <= from) return 0n;
  for (let k = (from - anchor) / period; anchor + k * period < to; k++) {
    if (!proven.has(k)) continue;
    const start = anchor + k * period > from ? anchor + k * period : from;
    const end = anchor + (k + 1n) * period < to ? anchor + (k + 1n) * period : to;
    if (end > start) sum += end - start;
  }
  return sum;
}
