import { expect } from "chai";
import { PeerRejectedError } from "../../../actors-ts/core/http-client";
import { DealNotPublishedError } from "../../../actors-ts/client/storage-common";
import { isStaleProposal } from "../../../actors-ts/repair/placer";

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
