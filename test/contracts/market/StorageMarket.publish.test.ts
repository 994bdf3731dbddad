import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, mine } from "@nomicfoundation/hardhat-network-helpers";
import type { StorageDealProposal } from "../../../actors-ts/chain/eip712";
import {
  PERIOD,
  clientLock,
  deployMarket,
  expectFundsConserved,
  fundEscrow,
  makePiece,
  makeProposal,
  signProposal,
  payloadCapacity,
  payloadLeaves,
} from "../helpers/market";

/** PublishResult enum values (contracts/types/StorageDealTypes.sol). */
const R = {
  None: 0n,
  InvalidProviderSignature: 1n,
  InvalidSignature: 2n,
  NonceUsed: 3n,
  InvalidPieceSize: 4n,
  InvalidPieceCid: 5n,
  InvalidEpochs: 6n,
  StartEpochTooSoon: 7n,
  DurationTooLong: 8n,
  ClientBalanceTooLow: 9n,
  ProviderBalanceTooLow: 10n,
  AmountTooLarge: 11n,
  InvalidPayloadSize: 13n,
};

function tuple(p: StorageDealProposal): unknown[] {
  return [
    p.pieceCid,
    p.pieceSize,
    p.payloadSize,
    p.client,
    p.provider,
    p.label,
    p.startEpoch,
    p.endEpoch,
    p.storagePricePerEpoch,
    p.providerCollateral,
    p.clientCollateral,
    p.nonce,
  ];
}

/** `proposals` with the fixture client's signatures, for the provider to publish itself. */
function signedByClient(f: Awaited<ReturnType<typeof deployMarket>>, proposals: StorageDealProposal[]) {
  return Promise.all(
    proposals.map(async (p) => ({
      proposal: p,
      providerSignature: "0x",
      clientSignature: await signProposal(f.market, f.client, p),
    })),
  );
}

describe("StorageMarket: publishStorageDeals", () => {
  async function fixture() {
    return deployMarket();
  }

  it("publishes a signed proposal, locks both parties and starts the proof set", async () => {
    const f = await loadFixture(fixture);
    const piece = makePiece(3000);
    const p = await makeProposal({ client: f.client.address, provider: f.provider.address, piece });
    await fundEscrow(f, f.client, f.provider, [p]);
    const signature = await signProposal(f.market, f.client, p);

    const block = (await ethers.provider.getBlockNumber()) + 1; // read before sending
    const tx = f.market
      .connect(f.provider)
      .publishStorageDeals([{ proposal: p, providerSignature: "0x", clientSignature: signature }]);
    await expect(tx)
      .to.emit(f.market, "DealPublished")
      .withArgs(1n, f.client.address, f.provider.address, 1n, 1n, tuple(p));
    await expect(tx).to.emit(f.market, "DataSetCreated").withArgs(1n, f.provider.address, f.client.address, block);

    expect(await f.market.balanceOf(f.client.address)).to.deep.equal([0n, clientLock(p)]);
    expect(await f.market.balanceOf(f.provider.address)).to.deep.equal([0n, p.providerCollateral]);
    expect(await f.market.isNonceUsed(f.client.address, p.nonce)).to.equal(true);
    expect(await f.market.isDealProposal(1n, p)).to.equal(true);
    expect(await f.market.isDealProposal(1n, { ...p, storagePricePerEpoch: 1n })).to.equal(false);
    const info = await f.market.dealInfo(1n);
    expect(info.state).to.equal(1n); // Published
    expect(info.provider).to.equal(f.provider.address);
    expect(info.client).to.equal(f.client.address);
    expect(info.dataSetId).to.equal(1n);
    expect(info.endEpoch).to.equal(p.endEpoch);
    expect(info.pieceSize).to.equal(p.pieceSize);
    const set = await f.market.dataSetInfo(1n);
    expect(set.anchorEpoch).to.equal(BigInt(block));
    expect(set.liveLeaves).to.equal(payloadLeaves(p.payloadSize));
    expect(await f.market.nextDealId()).to.equal(2n);
    await expectFundsConserved(f, f.accounts);
  });

  it("puts a pair's pieces in one data set, in publish order", async () => {
    const f = await loadFixture(fixture);
    const pieces = [makePiece(100), makePiece(5000), makePiece(300)];
    const proposals: StorageDealProposal[] = [];
    for (const piece of pieces)
      proposals.push(await makeProposal({ client: f.client.address, provider: f.provider.address, piece }));
    await fundEscrow(f, f.client, f.provider, proposals);
    const signed = await signedByClient(f, proposals);
    await f.market.connect(f.provider).publishStorageDeals(signed);
    let leaves = 0n;
    for (let i = 0; i < 3; i++) {
      const info = await f.market.dealInfo(BigInt(i + 1));
      expect([info.dataSetId, info.pieceIndex]).to.deep.equal([1n, BigInt(i + 1)]);
      leaves += payloadLeaves(proposals[i].payloadSize);
    }
    const set = await f.market.dataSetInfo(1n);
    expect([set.pieceCount, set.liveLeaves]).to.deep.equal([3n, leaves]);
  });

  describe("per-item results", () => {
    async function skipCase(
      mutate: (p: StorageDealProposal, now: bigint) => StorageDealProposal,
      expected: bigint,
      options: {
        fund?: boolean;
        signer?: "client" | "other";
        setup?: (f: Awaited<ReturnType<typeof fixture>>) => Promise<unknown>;
      } = {},
    ) {
      const f = await loadFixture(fixture);
      const now = BigInt(await ethers.provider.getBlockNumber());
      const good = await makeProposal({ client: f.client.address, provider: f.provider.address });
      const bad = mutate(await makeProposal({ client: f.client.address, provider: f.provider.address }), now);
      if (options.fund !== false)
        await fundEscrow(f, f.client, f.provider, [good, { ...bad, storagePricePerEpoch: 0n }]);
      else await fundEscrow(f, f.client, f.provider, [good]);
      await options.setup?.(f);
      const badSigner = options.signer === "other" ? f.other : f.client;
      const signed = [
        { proposal: bad, providerSignature: "0x", clientSignature: await signProposal(f.market, badSigner, bad) },
        { proposal: good, providerSignature: "0x", clientSignature: await signProposal(f.market, f.client, good) },
      ];
      const [dealIds, results] = await f.market.connect(f.provider).publishStorageDeals.staticCall(signed);
      expect(results).to.deep.equal([expected, R.None]);
      expect(dealIds).to.deep.equal([0n, 1n]);
      const tx = f.market.connect(f.provider).publishStorageDeals(signed);
      await expect(tx)
        .to.emit(f.market, "DealProposalSkipped")
        .withArgs(0n, bad.client, bad.provider, bad.nonce, expected);
      await expect(tx).to.emit(f.market, "DealPublished").withArgs(1n, good.client, good.provider, 1n, 1n, tuple(good));
      expect(await f.market.nextDealId()).to.equal(2n);
      expect(await f.market.isNonceUsed(bad.client, bad.nonce)).to.equal(false);
      await expectFundsConserved(f, f.accounts);
    }

    it("skips a proposal for another provider that has not accepted it", async () => {
      const f = await loadFixture(fixture);
      await skipCase((p) => ({ ...p, provider: f.provider2.address as `0x${string}` }), R.InvalidProviderSignature, {
        // provider2 could pay the collateral: only its missing acceptance refuses the item.
        setup: (g) => g.market.connect(g.provider2).addBalance(g.provider2.address, 10n ** 18n),
      });
    });
    it("skips a proposal signed by someone other than its client", async () => {
      await skipCase((p) => p, R.InvalidSignature, { signer: "other" });
    });
    it("skips a piece size that is not a power of two", async () => {
      await skipCase((p) => ({ ...p, pieceSize: 3n * 128n }), R.InvalidPieceSize);
    });
    it("skips a piece size below 128 bytes", async () => {
      await skipCase((p) => ({ ...p, pieceSize: 64n }), R.InvalidPieceSize);
    });
    it("skips a piece size above 2^36 bytes", async () => {
      await skipCase((p) => ({ ...p, pieceSize: 2n ** 37n }), R.InvalidPieceSize);
    });
    it("skips a payload of 0 bytes (nothing to challenge)", async () => {
      await skipCase((p) => ({ ...p, payloadSize: 0n }), R.InvalidPayloadSize);
    });
    it("skips a payload larger than its padded piece holds", async () => {
      await skipCase((p) => ({ ...p, payloadSize: payloadCapacity(p.pieceSize) + 1n }), R.InvalidPayloadSize);
    });
    it("skips a payload that fits a piece half the size (padding beyond the minimal power of two)", async () => {
      await skipCase((p) => ({ ...p, pieceSize: 4096n, payloadSize: payloadCapacity(2048n) }), R.InvalidPayloadSize);
    });
    it("publishes the smallest payloads: one byte in a 128-byte piece, just over half of a larger one", async () => {
      const f = await loadFixture(fixture);
      const proposals = [
        await makeProposal({
          client: f.client.address,
          provider: f.provider.address,
          pieceSize: 128n,
          payloadSize: 1n,
        }),
        await makeProposal({
          client: f.client.address,
          provider: f.provider.address,
          pieceSize: 4096n,
          payloadSize: payloadCapacity(2048n) + 1n,
        }),
      ];
      await fundEscrow(f, f.client, f.provider, proposals);
      const signed = await signedByClient(f, proposals);
      await f.market.connect(f.provider).publishStorageDeals(signed);
      expect(await f.market.nextDealId()).to.equal(3n);
      // Weights are payload leaves: ⌈4 · 1 / 127⌉ = 1 and ⌈4 · 2033 / 127⌉ = 65 (of 128 padded).
      expect((await f.market.dataSetInfo(1n)).liveLeaves).to.equal(1n + 65n);
      await expectFundsConserved(f, f.accounts);
    });
    it("skips a zero piece commitment", async () => {
      await skipCase((p) => ({ ...p, pieceCid: ethers.ZeroHash as `0x${string}` }), R.InvalidPieceCid);
    });
    it("skips an end epoch not after the start", async () => {
      await skipCase((p) => ({ ...p, endEpoch: p.startEpoch }), R.InvalidEpochs);
    });
    it("skips a start epoch before the first provable period ends", async () => {
      await skipCase((p, now) => ({ ...p, startEpoch: now + PERIOD - 1n, endEpoch: now + 100n }), R.StartEpochTooSoon);
    });
    it("skips a duration above maxDealDurationEpochs", async () => {
      await skipCase((p) => ({ ...p, endEpoch: p.startEpoch + 100_001n }), R.DurationTooLong);
    });
    it("skips a price whose total does not fit 128 bits", async () => {
      await skipCase((p) => ({ ...p, storagePricePerEpoch: 2n ** 128n }), R.AmountTooLarge, { fund: false });
    });
    it("skips when the client's free balance is short", async () => {
      await skipCase((p) => ({ ...p, clientCollateral: p.clientCollateral + 1n }), R.ClientBalanceTooLow, {
        fund: false,
      });
    });
    it("skips when the provider's free balance is short", async () => {
      await skipCase((p) => ({ ...p, providerCollateral: p.providerCollateral + 1n }), R.ProviderBalanceTooLow, {
        fund: false,
      });
    });
  });

  describe("replay protection (EIP-712)", () => {
    type Fixture = Awaited<ReturnType<typeof fixture>>;
    async function publishWith(signatureFor: (f: Fixture, p: StorageDealProposal) => Promise<string>) {
      const f = await loadFixture(fixture);
      const p = await makeProposal({ client: f.client.address, provider: f.provider.address });
      await fundEscrow(f, f.client, f.provider, [p]);
      const [, results] = await f.market
        .connect(f.provider)
        .publishStorageDeals.staticCall([
          { proposal: p, providerSignature: "0x", clientSignature: await signatureFor(f, p) },
        ]);
      return results;
    }

    it("rejects a signature made for another chain id", async () => {
      const results = await publishWith((f, p) => signProposal(f.market, f.client, p, { chainId: 1n }));
      expect(results).to.deep.equal([R.InvalidSignature]);
    });

    it("rejects a signature made for another market contract", async () => {
      const results = await publishWith((f, p) =>
        signProposal(f.market, f.client, p, { verifyingContract: f.token.target as string }),
      );
      expect(results).to.deep.equal([R.InvalidSignature]);
    });

    it("rejects a reused nonce, in the same batch and in a later one", async () => {
      const f = await loadFixture(fixture);
      const a = await makeProposal({ client: f.client.address, provider: f.provider.address, nonce: 77n });
      const b = await makeProposal({ client: f.client.address, provider: f.provider.address, nonce: 77n });
      await fundEscrow(f, f.client, f.provider, [a, b, b]);
      const sa = { proposal: a, providerSignature: "0x", clientSignature: await signProposal(f.market, f.client, a) };
      const sb = { proposal: b, providerSignature: "0x", clientSignature: await signProposal(f.market, f.client, b) };
      const [, sameBatch] = await f.market.connect(f.provider).publishStorageDeals.staticCall([sa, sb]);
      expect(sameBatch).to.deep.equal([R.None, R.NonceUsed]);
      await f.market.connect(f.provider).publishStorageDeals([sa]);
      const [, later] = await f.market.connect(f.provider).publishStorageDeals.staticCall([sb, sa]);
      expect(later).to.deep.equal([R.NonceUsed, R.NonceUsed]);
    });

    it("never publishes the same signed proposal twice, even after the deal closed", async () => {
      const f = await loadFixture(fixture);
      const p = await makeProposal({ client: f.client.address, provider: f.provider.address });
      await fundEscrow(f, f.client, f.provider, [p, p]);
      const signed = [
        { proposal: p, providerSignature: "0x", clientSignature: await signProposal(f.market, f.client, p) },
      ];
      await f.market.connect(f.provider).publishStorageDeals(signed);
      await mine(Number(p.endEpoch) + 100);
      await f.market.settleDeals([1n], [p]);
      expect((await f.market.dealInfo(1n)).state).to.be.greaterThanOrEqual(4n);
      const [, results] = await f.market.connect(f.provider).publishStorageDeals.staticCall(signed);
      expect(results).to.deep.equal([R.NonceUsed]);
    });
  });

  describe("ERC-1271 clients", () => {
    it("accepts a contract client whose wallet validates the signature", async () => {
      const f = await loadFixture(fixture);
      const wallet = await ethers.deployContract("ERC1271WalletMock", [f.client.address]);
      const walletAddress = await wallet.getAddress();
      const p = await makeProposal({ client: walletAddress, provider: f.provider.address });
      await f.market.connect(f.client).addBalance(walletAddress, clientLock(p));
      await f.market.connect(f.provider).addBalance(f.provider.address, p.providerCollateral);
      const good = { proposal: p, providerSignature: "0x", clientSignature: await signProposal(f.market, f.client, p) };
      const forged = {
        proposal: p,
        providerSignature: "0x",
        clientSignature: await signProposal(f.market, f.other, p),
      };
      const [, results] = await f.market.connect(f.provider).publishStorageDeals.staticCall([forged, good]);
      expect(results).to.deep.equal([R.InvalidSignature, R.None]);
      await expect(f.market.connect(f.provider).publishStorageDeals([good]))
        .to.emit(f.market, "DealPublished")
        .withArgs(1n, walletAddress, f.provider.address, 1n, 1n, tuple(p));
      expect(await f.market.balanceOf(walletAddress)).to.deep.equal([0n, clientLock(p)]);
    });
  });

  it("publishes nothing for an empty batch", async () => {
    const f = await loadFixture(fixture);
    const [dealIds, results] = await f.market.connect(f.provider).publishStorageDeals.staticCall([]);
    expect(dealIds).to.deep.equal([]);
    expect(results).to.deep.equal([]);
  });
});
