import { expect } from "chai";
import { PeerRejectedError } from "../../../actors-ts/core/http-client";
import { DealNotPublishedError } from "../../../actors-ts/client/storage-common";
import type { Address } from "viem";
import type { RegisteredProvider } from "../../../actors-ts/chain/registry/reads";
import { isOwnEscrowShortfall, isStaleProposal, placementCandidates } from "../../../actors-ts/repair/placement-rules";

/** The placer re-proposes a stale proposal by the error's code, never by its message text. */
describe("placer: stale proposals are known by their code", () => {
  it("takes the provider's 422 StartEpochTooSoon and a market skip for StartEpochTooSoon", () => {
    const rejected = new PeerRejectedError(422, "StartEpochTooSoon", "propose deal: 0xP answered 422", {});
    const skipped = new DealNotPublishedError("deal was not published", { details: { reason: "StartEpochTooSoon" } });
    expect([isStaleProposal(rejected), isStaleProposal(skipped)]).to.deep.equal([true, true]);
  });

  it("does not take other errors that merely mention it", () => {
    const other = new PeerRejectedError(
      422,
      "PriceBelowAsk",
      "propose deal: StartEpochTooSoon was not the problem",
      {},
    );
    const skipped = new DealNotPublishedError("StartEpochTooSoon? no", { details: { reason: "NonceUsed" } });
    const plain = new Error("StartEpochTooSoon");
    expect([isStaleProposal(other), isStaleProposal(skipped), isStaleProposal(plain)]).to.deep.equal([
      false,
      false,
      false,
    ]);
  });
});

/** The miner's own escrow falling short is not the provider's fault (decision 47): known by codes only. */
describe("placer: the miner's own escrow shortfall is known by its code", () => {
  it("takes 422 ClientEscrowTooLow, a PublishFailed for ClientBalanceTooLow and a market skip for it", () => {
    const proposal = new PeerRejectedError(422, "ClientEscrowTooLow", "propose deal: 0xP answered 422", {});
    const upload = new PeerRejectedError(422, "PublishFailed", "upload piece: 0xP answered 422", {
      reason: "ClientBalanceTooLow",
    });
    const skipped = new DealNotPublishedError("deal was not published", { details: { reason: "ClientBalanceTooLow" } });
    expect([proposal, upload, skipped].map(isOwnEscrowShortfall)).to.deep.equal([true, true, true]);
  });

  it("does not take the provider's own shortfall, another skip, or text that merely mentions it", () => {
    const providerShort = new PeerRejectedError(422, "PublishFailed", "upload piece: ClientBalanceTooLow", {
      reason: "ProviderBalanceTooLow",
    });
    const capacity = new PeerRejectedError(422, "NoCapacity", "ClientEscrowTooLow is not it", {});
    const skipped = new DealNotPublishedError("ClientBalanceTooLow?", { details: { reason: "NonceUsed" } });
    const plain = new Error("ClientBalanceTooLow");
    expect([providerShort, capacity, skipped, plain].map(isOwnEscrowShortfall)).to.deep.equal([
      false,
      false,
      false,
      false,
    ]);
  });
});

function provider(n: number, price: bigint, minPieceSize = 0n, maxPieceSize = 1n << 40n): RegisteredProvider {
  return {
    address: `0x${n.toString(16).padStart(40, "0").toUpperCase()}` as Address,
    endpoint: `http://127.0.0.1:${9000 + n}`,
    registeredAt: 1n,
    storageAsk: { pricePerBytePerEpoch: price, minPieceSize, maxPieceSize, collateralPerByte: 1n },
    retrievalAsk: { pricePerByte: 1n, paymentIntervalBytes: 1n, paymentIntervalIncreaseBytes: 1n },
  };
}

describe("placementCandidates: who may take a piece, best first", () => {
  const self = provider(1, 1n);
  const registered = [self, provider(2, 5n), provider(3, 3n), provider(4, 1n), provider(5, 2n, 1n << 20n, 1n << 30n)];
  const lower = (n: number) => registered[n - 1].address.toLowerCase();

  it("leaves out the miner, holders of another piece of the file, excluded providers and asks that do not fit", () => {
    const ranked = placementCandidates(
      registered,
      { self: self.address, taken: new Set([lower(4)]), excluded: new Set([lower(2)]), pieceSize: 1n << 31n },
      () => undefined,
    );
    expect(ranked.map((p) => p.address)).to.deep.equal([registered[2].address]);
  });

  it("ranks known reputation first, then the lower price, with seeded ties", () => {
    const scores: Record<string, number> = { [lower(2)]: 0.9 };
    const rule = { self: self.address, taken: new Set<string>(), excluded: new Set<string>(), pieceSize: 1n << 25n };
    const ranked = placementCandidates(
      registered,
      rule,
      (a) => scores[a.toLowerCase()],
      () => 0.5,
    );
    expect(ranked.map((p) => p.address)).to.deep.equal([2, 4, 5, 3].map((n) => registered[n - 1].address));
  });
});
