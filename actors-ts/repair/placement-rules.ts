import type { Address } from "viem";
import { PeerRejectedError } from "../core/http-client";
import type { RegisteredProvider } from "../chain/registry/reads";
import { DealNotPublishedError } from "../client/storage-common";

/** What rules a provider out for one piece's placement ({@link placementCandidates}). */
export interface PlacementExclusions {
  /** The miner's own worker address (it never stores its own pieces). */
  self: Address;
  /** Lower-cased addresses holding (or being given) another piece of the same file. */
  taken: ReadonlySet<string>;
  /** Lower-cased addresses excluded for this piece (refused, unreachable or faulted lately). */
  excluded: ReadonlySet<string>;
  /** The piece's padded size, bytes; a provider's storage ask must cover it. */
  pieceSize: bigint;
}

/**
 * The placement rule (issue "Placement"), pure: the providers that may take a piece — not the
 * miner itself, holding no other piece of the file, not excluded, with a storage ask whose piece
 * size range covers the piece — best first by {@link rankForPlacement}. The placer takes the
 * first; an empty list means no provider can take it. The durability simulation
 * (actors-ts/durability/simulate.ts) places rebuilt pieces with this same function.
 *
 * @param scoreOf A provider's score in [0, 1], or undefined when unknown.
 * @param random Uniform in [0, 1) (default Math.random), for the ties.
 * @example placementCandidates(registered, { self, taken, excluded, pieceSize: 1n << 30n }, () => undefined)[0]
 */
export function placementCandidates(
  providers: readonly RegisteredProvider[],
  rule: PlacementExclusions,
  scoreOf: (address: Address) => number | undefined,
  random: () => number = Math.random,
): RegisteredProvider[] {
  const self = rule.self.toLowerCase();
  return rankForPlacement(
    providers.filter((p) => {
      const a = p.address.toLowerCase();
      const fits = p.storageAsk.minPieceSize <= rule.pieceSize && rule.pieceSize <= p.storageAsk.maxPieceSize;
      return a !== self && !rule.taken.has(a) && !rule.excluded.has(a) && fits;
    }),
    scoreOf,
    random,
  );
}

/**
 * Orders providers for placement (issue "Placement"): known reputation first, higher first
 * (hand-set scores, then the dealbots' feed); then lower storage price; ties at random.
 *
 * @param scoreOf A provider's score in [0, 1], or undefined when unknown.
 * @param random Uniform in [0, 1) (default Math.random), for the ties.
 */
export function rankForPlacement(
  providers: readonly RegisteredProvider[],
  scoreOf: (address: Address) => number | undefined,
  random: () => number = Math.random,
): RegisteredProvider[] {
  return providers
    .map((p) => ({ p, score: scoreOf(p.address), tie: random() }))
    .sort(
      (a, b) =>
        (b.score ?? -1) - (a.score ?? -1) ||
        (a.p.storageAsk.pricePerBytePerEpoch < b.p.storageAsk.pricePerBytePerEpoch
          ? -1
          : a.p.storageAsk.pricePerBytePerEpoch > b.p.storageAsk.pricePerBytePerEpoch
            ? 1
            : a.tie - b.tie),
    )
    .map((c) => c.p);
}

/**
 * Whether `err` says the proposal's start epoch passed before it could be published: the
 * provider's 422 `StartEpochTooSoon`, or a publish the market skipped with that `PublishResult`
 * (the provider's recorded reason, or the client's own publish with the acceptance).
 */
export function isStaleProposal(err: unknown): boolean {
  if (err instanceof PeerRejectedError) return err.code === "StartEpochTooSoon";
  return err instanceof DealNotPublishedError && err.details.reason === "StartEpochTooSoon";
}

/**
 * Whether `err` says the miner's own free escrow did not cover a proposal: the provider's 422
 * `ClientEscrowTooLow` at proposal, or a publication the market skipped with
 * `ClientBalanceTooLow`. The provider did nothing wrong; the placer proposes to it again (the
 * escrow is topped up with the new proposal) instead of dropping it (decision 47).
 */
export function isOwnEscrowShortfall(err: unknown): boolean {
  if (err instanceof PeerRejectedError) {
    return (
      err.code === "ClientEscrowTooLow" ||
      (err.code === "PublishFailed" && err.details.reason === "ClientBalanceTooLow")
    );
  }
  return err instanceof DealNotPublishedError && err.details.reason === "ClientBalanceTooLow";
}
