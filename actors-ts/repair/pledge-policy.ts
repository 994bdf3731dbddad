/**
 * How much pledge a bid needs of a repair miner, and whether the miner tops its pledge up or
 * refuses the bid: pure functions over numbers read from the chain (RepairMarket's `getMiner` and
 * `repairParams`), so the decision is unit-tested apart from the daemon that acts on it.
 * Amounts are token base units, sizes bytes.
 */

/** What a bid needs of the miner's pledge, counted as `RepairMarket.addDeal` counts it. */
export interface PledgeNeed {
  minerId: bigint;
  /** The miner's pledge on chain now, token base units. */
  pledge: bigint;
  /** Encoded bytes the miner already manages (Σ size of its open repair deals). */
  powerBytes: bigint;
  /** The bid's `size`: the payload bytes of its k + m pieces, padding excluded. */
  bidSize: bigint;
  /** Pledge per byte of power, token base units (a deployment parameter). */
  pledgePerByte: bigint;
  /** `(powerBytes + bidSize) × pledgePerByte`: what `addDeal` requires, token base units. */
  required: bigint;
  /** `required − pledge` when positive, else 0, token base units. */
  shortfall: bigint;
}

/**
 * The pledge a bid of `bidSize` bytes needs of a miner holding `pledge` and `powerBytes`: the
 * check `addDeal` makes before it reverts `InsufficientPledge(minerId, pledge, required)`.
 *
 * @example pledgeNeed(1n, { pledge: 100n, powerBytes: 10n }, 5n, 10n) // required 150n, shortfall 50n
 */
export function pledgeNeed(
  minerId: bigint,
  miner: { pledge: bigint; powerBytes: bigint },
  bidSize: bigint,
  pledgePerByte: bigint,
): PledgeNeed {
  const required = (miner.powerBytes + bidSize) * pledgePerByte;
  const shortfall = required > miner.pledge ? required - miner.pledge : 0n;
  return { minerId, pledge: miner.pledge, powerBytes: miner.powerBytes, bidSize, pledgePerByte, required, shortfall };
}

/** The owner's rule for topping the pledge up (`--auto-pledge`, `--max-pledge`). */
export interface PledgePolicy {
  /** Top the pledge up from the worker's wallet when a deal needs more. */
  autoPledge: boolean;
  /** The most pledge a top-up may bring the miner to, token base units (required with autoPledge). */
  maxPledge?: bigint;
}

/** Why a bid the pledge does not cover is refused. */
export type PledgeRefusal =
  /** Topping up is off (the default): the owner adds pledge by hand. */
  | "autoPledgeOff"
  /** Topping up would take the pledge past `maxPledge`. */
  | "overCap"
  /** The worker's wallet holds fewer tokens than the shortfall. */
  | "walletShort";

/** What to do about a bid: nothing, add `amount` of pledge, or refuse it. */
export type PledgeDecision =
  { action: "covered" } | { action: "topUp"; amount: bigint } | { action: "refuse"; reason: PledgeRefusal };

/**
 * Decides what a shortfall calls for. A bid the pledge covers needs nothing; otherwise the miner
 * tops up exactly the shortfall when `autoPledge` is on, the pledge stays within `maxPledge`
 * afterwards and the wallet can pay it; else it refuses. `walletBalance` undefined means "not
 * read" and is treated as enough (the proposal's check, which pledges nothing).
 *
 * @example decidePledge(need, { autoPledge: true, maxPledge: 10n ** 18n }, 10n ** 20n) // { action: "topUp", amount: need.shortfall }
 */
export function decidePledge(need: PledgeNeed, policy: PledgePolicy, walletBalance?: bigint): PledgeDecision {
  if (need.shortfall === 0n) return { action: "covered" };
  if (!policy.autoPledge || policy.maxPledge === undefined) return { action: "refuse", reason: "autoPledgeOff" };
  if (need.pledge + need.shortfall > policy.maxPledge) return { action: "refuse", reason: "overCap" };
  if (walletBalance !== undefined && walletBalance < need.shortfall) return { action: "refuse", reason: "walletShort" };
  return { action: "topUp", amount: need.shortfall };
}
