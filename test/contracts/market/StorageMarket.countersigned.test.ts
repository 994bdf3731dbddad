import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import type { StorageDealProposal } from "../../../actors-ts/chain/eip712";
import {
  PERIOD,
  clientLock,
  deployMarket,
  expectFundsConserved,
  fundEscrow,
  makePiece,
  makeProposal,
  signAcceptance,
  signProposal,
  type MarketFixture,
} from "../helpers/market";

/** PublishResult values (contracts/types/StorageDealTypes.sol). */
const R = { None: 0n, InvalidProviderSignature: 1n, InvalidSignature: 2n, NonceUsed: 3n, ProviderBalanceTooLow: 10n };
const STATE = { Published: 1n, Faulted: 3n, Terminated: 4n };

/**
 * Seed 001 steps 2–3: a deal carries the client's proposal signature and the provider's
 * acceptance, and either party (or anyone) may put it on chain. A provider that took the bytes
 * and never published is held to the deal.
 */
describe("StorageMarket: deals either party can publish (provider acceptances)", () => {
  async function withSignedDeal() {
    const f = await deployMarket();
    const p = await makeProposal({ client: f.client.address, provider: f.provider.address, piece: makePiece(2000) });
    await fundEscrow(f, f.client, f.provider, [p]);
    const clientSignature = await signProposal(f.market, f.client, p);
    const providerSignature = await signAcceptance(f.market, f.provider, p);
    return { ...f, p, clientSignature, providerSignature };
  }

  async function publishAs(
    f: MarketFixture,
    sender: MarketFixture["client"],
    items: { proposal: StorageDealProposal; clientSignature: string; providerSignature: string }[],
  ) {
    const [ids, results] = await f.market.connect(sender).publishStorageDeals.staticCall(items);
    await (await f.market.connect(sender).publishStorageDeals(items)).wait();
    return { ids, results };
  }

  async function expectNothingLocked(f: Awaited<ReturnType<typeof withSignedDeal>>) {
    expect(await f.market.isNonceUsed(f.client.address, f.p.nonce)).to.equal(false);
    expect((await f.market.balanceOf(f.client.address)).locked).to.equal(0n);
    expect((await f.market.balanceOf(f.provider.address)).locked).to.equal(0n);
    expect(await f.market.nextDealId()).to.equal(1n);
    await expectFundsConserved(f, f.accounts);
  }

  it("the client publishes a deal its provider accepted; the provider's own publish is a no-op and it is held to the deal", async () => {
    const f = await loadFixture(withSignedDeal);
    const item = { proposal: f.p, clientSignature: f.clientSignature, providerSignature: f.providerSignature };
    const tx = f.market.connect(f.client).publishStorageDeals([item]);
    await expect(tx)
      .to.emit(f.market, "DealPublished")
      .withArgs(1n, f.client.address, f.provider.address, 1n, 1n, [...Object.values(f.p)]);
    await expect(tx).to.emit(f.market, "DataSetCreated");
    // Both parties' funds are locked as if the provider had published.
    expect(await f.market.balanceOf(f.client.address)).to.deep.equal([0n, clientLock(f.p)]);
    expect(await f.market.balanceOf(f.provider.address)).to.deep.equal([0n, f.p.providerCollateral]);
    const info = await f.market.dealInfo(1n);
    expect(info.provider).to.equal(f.provider.address);
    expect(info.client).to.equal(f.client.address);
    expect((await f.market.dataSetInfo(info.dataSetId)).provider).to.equal(f.provider.address);
    // The provider's late publish of the same deal (in a batch with another) skips it as used
    // and publishes the rest: the client's front-run cannot sink its batch or lock twice.
    const other = await makeProposal({ client: f.client.address, provider: f.provider.address, piece: makePiece(900) });
    await fundEscrow(f, f.client, f.provider, [other]);
    const late = await publishAs(f, f.provider, [
      { proposal: f.p, clientSignature: f.clientSignature, providerSignature: "0x" },
      { proposal: other, clientSignature: await signProposal(f.market, f.client, other), providerSignature: "0x" },
    ]);
    expect(late.results).to.deep.equal([R.NonceUsed, R.None]);
    expect(await f.market.balanceOf(f.provider.address)).to.deep.equal([
      0n,
      f.p.providerCollateral + other.providerCollateral,
    ]);
    // Held to it: a provider that never proves faults, like any other.
    await expectFundsConserved(f, f.accounts);
    const start = f.p.startEpoch;
    const now = BigInt(await ethers.provider.getBlockNumber());
    await ethers.provider.send("hardhat_mine", [ethers.toQuantity(start - now + 2n * PERIOD)]);
    expect((await f.market.dealInfo(1n)).state).to.be.oneOf([STATE.Faulted, STATE.Terminated]);
    await expectFundsConserved(f, f.accounts);
  });

  it("a third party may relay a deal both parties signed", async () => {
    const f = await loadFixture(withSignedDeal);
    const { results } = await publishAs(f, f.other, [
      { proposal: f.p, clientSignature: f.clientSignature, providerSignature: f.providerSignature },
    ]);
    expect(results).to.deep.equal([R.None]);
    expect((await f.market.dealInfo(1n)).state).to.equal(STATE.Published);
    expect(await f.market.balanceOf(f.other.address)).to.deep.equal([0n, 0n]);
    await expectFundsConserved(f, f.accounts);
  });

  it("a client cannot publish without the provider's acceptance of exactly these terms", async () => {
    const f = await loadFixture(withSignedDeal);
    const network = await ethers.provider.getNetwork();
    // Terms the provider never accepted: more collateral, a lower price, a longer deal.
    const changed = [
      { ...f.p, providerCollateral: f.p.providerCollateral + 1n },
      { ...f.p, storagePricePerEpoch: f.p.storagePricePerEpoch - 1n },
      { ...f.p, endEpoch: f.p.endEpoch + PERIOD },
    ];
    const attempts: [StorageDealProposal, string][] = [
      [f.p, "0x"], // no acceptance
      [f.p, await signAcceptance(f.market, f.client, f.p)], // the client signs for the provider
      [f.p, await signAcceptance(f.market, f.other, f.p)], // a stranger does
      [f.p, await signProposal(f.market, f.provider, f.p)], // the provider's signature of another type
      [f.p, await signAcceptance(f.market, f.provider, f.p, { verifyingContract: f.other.address })],
      [f.p, await signAcceptance(f.market, f.provider, f.p, { chainId: network.chainId + 1n })],
      [f.p, f.providerSignature.slice(0, -2) + "00"], // a damaged signature
    ];
    for (const terms of changed) attempts.push([terms, f.providerSignature]);
    // Enough escrow for any of them, so only the signature can refuse.
    await f.market.connect(f.client).addBalance(f.client.address, f.p.storagePricePerEpoch * PERIOD);
    await f.market.connect(f.provider).addBalance(f.provider.address, 1n);
    for (const [proposal, providerSignature] of attempts) {
      const clientSignature = await signProposal(f.market, f.client, proposal);
      const { results } = await publishAs(f, f.client, [{ proposal, clientSignature, providerSignature }]);
      expect(results).to.deep.equal([R.InvalidProviderSignature]);
    }
    await expectNothingLocked(f);
  });

  it("a provider's acceptance cannot stand in for the client's signature", async () => {
    const f = await loadFixture(withSignedDeal);
    for (const sender of [f.provider, f.other]) {
      const { results } = await publishAs(f, sender, [
        { proposal: f.p, clientSignature: f.providerSignature, providerSignature: f.providerSignature },
      ]);
      expect(results).to.deep.equal([R.InvalidSignature]);
    }
    await expectNothingLocked(f);
  });

  it("an acceptance moves no more than the provider's free balance", async () => {
    const f = await loadFixture(withSignedDeal);
    await f.market.connect(f.provider).withdrawBalance(f.p.providerCollateral);
    const { results } = await publishAs(f, f.client, [
      { proposal: f.p, clientSignature: f.clientSignature, providerSignature: f.providerSignature },
    ]);
    expect(results).to.deep.equal([R.ProviderBalanceTooLow]);
    expect(await f.market.isNonceUsed(f.client.address, f.p.nonce)).to.equal(false);
    expect(await f.market.balanceOf(f.client.address)).to.deep.equal([clientLock(f.p), 0n]);
    await expectFundsConserved(f, f.accounts);
  });
});
