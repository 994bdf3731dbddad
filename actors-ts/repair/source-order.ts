import type { Address } from "viem";
import type { RegisteredProvider } from "../chain/registry/reads";

/**
 * Which healthy pieces a repair downloads, from whom, and which repair runs first (seed 002's
 * holdings, seed 003's minimal-download repair). Pure: everything comes in as arguments, so the
 * rules are unit-tested without a chain or a provider.
 */

/** A repair job as prioritised: its deal, how many of its pieces are still healthy, its end. */
export interface RepairCandidate {
  /** Pieces of the file not lost (fewer is riskier). */
  healthyPieces: number;
  /** The repair deal's end epoch (sooner is more urgent at equal risk). */
  endEpoch: bigint;
}

/**
 * Jobs riskiest first: fewest healthy pieces, then the deal that ends soonest; ties keep their
 * order (Array.prototype.sort is stable).
 */
export function byRepairPriority<T extends RepairCandidate>(jobs: readonly T[]): T[] {
  return [...jobs].sort(
    (a, b) => a.healthyPieces - b.healthyPieces || (a.endEpoch < b.endEpoch ? -1 : a.endEpoch > b.endEpoch ? 1 : 0),
  );
}

/** A healthy piece of the file: its index, PieceCID and on-chain holder. */
export interface HealthyPiece {
  index: number;
  pieceCid: string;
  /** The provider of the piece's current storage deal. */
  provider?: Address;
}

/**
 * Who to ask for each healthy piece: the providers that advertise it (seed 002), the on-chain
 * holder first among them; the on-chain holder alone when nobody advertises it. Addresses not in
 * the registry are dropped; a piece nobody registered holds is left out.
 *
 * @param advertisers Providers advertising a PieceCID, from the holdings index.
 */
export function holdersOf(
  healthy: readonly HealthyPiece[],
  advertisers: (pieceCid: string) => readonly string[],
  registered: readonly RegisteredProvider[],
): Map<number, RegisteredProvider[]> {
  const byAddress = new Map(registered.map((p) => [p.address.toLowerCase(), p]));
  const holders = new Map<number, RegisteredProvider[]>();
  for (const piece of healthy) {
    const advertised = advertisers(piece.pieceCid);
    const addresses = advertised.length > 0 ? advertised : piece.provider ? [piece.provider] : [];
    const list = addresses.map((a) => byAddress.get(a.toLowerCase())).filter((p): p is RegisteredProvider => !!p);
    const isHolder = (p: RegisteredProvider) => Number(p.address.toLowerCase() === piece.provider?.toLowerCase());
    list.sort((a, b) => isHolder(b) - isHolder(a));
    if (list.length > 0) holders.set(piece.index, list);
  }
  return holders;
}

/**
 * The order to try healthy pieces in: advertised pieces first; within that, pieces whose best
 * holder has the best known reputation (unknown counts as −1); ties by a collateral-weighted
 * draw with a floor ({@link weightedOrder}).
 *
 * @param reputation Score per provider address (any case), e.g. from a dealbot feed.
 * @param random Uniform in [0, 1) (default Math.random), for the draw.
 */
export function sourceOrder(
  indices: readonly number[],
  holders: ReadonlyMap<number, readonly RegisteredProvider[]>,
  isAdvertised: (index: number) => boolean,
  reputation: Readonly<Record<string, number>>,
  random: () => number = Math.random,
): number[] {
  const scoreOf = (i: number) =>
    Math.max(
      -1,
      ...(holders.get(i) ?? []).map((p) => reputation[p.address] ?? reputation[p.address.toLowerCase()] ?? -1),
    );
  const groups = new Map<string, { advertised: number; score: number; indices: number[] }>();
  for (const i of indices) {
    const advertised = isAdvertised(i) ? 1 : 0;
    const score = scoreOf(i);
    const key = `${advertised}:${score}`;
    const group = groups.get(key) ?? { advertised, score, indices: [] };
    group.indices.push(i);
    groups.set(key, group);
  }
  return [...groups.values()]
    .sort((a, b) => b.advertised - a.advertised || b.score - a.score)
    .flatMap((g) => weightedOrder(g.indices, holders, random));
}

/**
 * Orders piece indices by a weighted random draw without replacement, each weighted by its best
 * holder's collateral per byte with a floor of a tenth of the largest (at least 1), so
 * well-collateralised providers are preferred but small ones are still chosen.
 *
 * @param random Uniform in [0, 1) (default Math.random).
 */
export function weightedOrder(
  indices: readonly number[],
  holders: ReadonlyMap<number, readonly RegisteredProvider[]>,
  random: () => number = Math.random,
): number[] {
  const weightOf = (i: number) =>
    (holders.get(i) ?? []).reduce(
      (w, p) => (p.storageAsk.collateralPerByte > w ? p.storageAsk.collateralPerByte : w),
      0n,
    );
  const max = indices.reduce((m, i) => (weightOf(i) > m ? weightOf(i) : m), 0n);
  const floor = max / 10n > 1n ? max / 10n : 1n;
  const pool = indices.map((i) => ({ i, w: Number(weightOf(i) > floor ? weightOf(i) : floor) }));
  const out: number[] = [];
  while (pool.length > 0) {
    const total = pool.reduce((s, p) => s + p.w, 0);
    let r = random() * total;
    let pick = 0;
    for (; pick < pool.length - 1; pick++) {
      r -= pool[pick].w;
      if (r < 0) break;
    }
    out.push(pool[pick].i);
    pool.splice(pick, 1);
  }
  return out;
}

/**
 * Who to ask for an orphan's manifest (seed 002: orphan requests go to advertisers first, else to
 * providers drawn by stake): the file's on-chain holders first, in their order, then every other
 * registered provider in a collateral-weighted draw with a floor (as {@link weightedOrder}), so
 * well-collateralised providers are asked early and small ones are still asked. Each provider
 * appears once.
 *
 * @param random Uniform in [0, 1) (default Math.random).
 */
export function orphanRequestOrder(
  holders: readonly RegisteredProvider[],
  registered: readonly RegisteredProvider[],
  random: () => number = Math.random,
): RegisteredProvider[] {
  const seen = new Set<string>();
  const first = holders.filter((p) => !seen.has(p.address.toLowerCase()) && seen.add(p.address.toLowerCase()));
  const others = registered.filter((p) => !seen.has(p.address.toLowerCase()) && seen.add(p.address.toLowerCase()));
  const byIndex = new Map(others.map((p, i) => [i, [p]] as const));
  return [...first, ...weightedOrder([...byIndex.keys()], byIndex, random).map((i) => others[i])];
}
