import { expect } from "chai";
import { decidePledge, pledgeNeed } from "../../../actors-ts/repair/pledge-policy";
import { encodedPayloadBytesOfFile } from "../../../actors-ts/erasure/layout";

describe("pledge policy (what a bid needs of a repair miner's pledge, and whether it tops up)", () => {
  const PER_BYTE = 1_000_000n;

  it("counts a bid as addDeal does: (power + the bid's size) × pledgePerByte, less the pledge", () => {
    const need = pledgeNeed(7n, { pledge: 5_000n * PER_BYTE, powerBytes: 3_000n }, 4_000n, PER_BYTE);
    expect(need.required).to.equal(7_000n * PER_BYTE);
    expect(need.shortfall).to.equal(2_000n * PER_BYTE);
    expect(need.minerId).to.equal(7n);
    const covered = pledgeNeed(7n, { pledge: 9_000n * PER_BYTE, powerBytes: 3_000n }, 4_000n, PER_BYTE);
    expect(covered.shortfall).to.equal(0n);
  });

  it("the issue's 1 GiB file (k = 4, m = 2) needs 1.5 GiB of power, more than the default 1 GiB pledge", () => {
    const size = encodedPayloadBytesOfFile(2 ** 30, 4, 2);
    expect(size).to.equal(1_611_294_720n); // 6 pieces of 268,549,120 payload bytes
    const need = pledgeNeed(1n, { pledge: (1n << 30n) * PER_BYTE, powerBytes: 0n }, size, PER_BYTE);
    expect(need.shortfall).to.equal((size - (1n << 30n)) * PER_BYTE);
  });

  it("needs nothing when the pledge covers the bid, whatever the policy", () => {
    const need = pledgeNeed(1n, { pledge: 100n, powerBytes: 0n }, 10n, 10n);
    expect(decidePledge(need, { autoPledge: false })).to.deep.equal({ action: "covered" });
  });

  it("refuses by default: topping up is the owner's choice", () => {
    const need = pledgeNeed(1n, { pledge: 100n, powerBytes: 0n }, 15n, 10n);
    expect(decidePledge(need, { autoPledge: false, maxPledge: 10n ** 30n })).to.deep.equal({
      action: "refuse",
      reason: "autoPledgeOff",
    });
    expect(decidePledge(need, { autoPledge: true })).to.deep.equal({ action: "refuse", reason: "autoPledgeOff" });
  });

  it("tops up exactly the shortfall within the cap, and refuses past it", () => {
    const need = pledgeNeed(1n, { pledge: 100n, powerBytes: 0n }, 15n, 10n);
    expect(decidePledge(need, { autoPledge: true, maxPledge: 150n }, 1_000n)).to.deep.equal({
      action: "topUp",
      amount: 50n,
    });
    expect(decidePledge(need, { autoPledge: true, maxPledge: 149n }, 1_000n)).to.deep.equal({
      action: "refuse",
      reason: "overCap",
    });
  });

  it("refuses when the worker's wallet cannot pay the shortfall, and does not read it at a proposal", () => {
    const need = pledgeNeed(1n, { pledge: 100n, powerBytes: 0n }, 15n, 10n);
    expect(decidePledge(need, { autoPledge: true, maxPledge: 1_000n }, 49n)).to.deep.equal({
      action: "refuse",
      reason: "walletShort",
    });
    expect(decidePledge(need, { autoPledge: true, maxPledge: 1_000n })).to.deep.equal({ action: "topUp", amount: 50n });
  });
});
