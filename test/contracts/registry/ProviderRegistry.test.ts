import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";

const storageAsk = { pricePerBytePerEpoch: 5n, minPieceSize: 128n, maxPieceSize: 1n << 30n, collateralPerByte: 2n };
const retrievalAsk = { pricePerByte: 3n, paymentIntervalBytes: 1n << 20n, paymentIntervalIncreaseBytes: 1n << 20n };

describe("ProviderRegistry", () => {
  async function fixture() {
    const [a, b, c] = await ethers.getSigners();
    const registry = await ethers.deployContract("ProviderRegistry");
    return { registry, a, b, c };
  }

  describe("register", () => {
    it("stores the endpoint and asks and lists the provider", async () => {
      const { registry, a } = await loadFixture(fixture);
      const tx = registry.connect(a).register("http://127.0.0.1:7001", storageAsk, retrievalAsk);
      await expect(tx).to.emit(registry, "ProviderRegistered").withArgs(a.address, "http://127.0.0.1:7001");
      const info = await registry.getProvider(a.address);
      expect(info.endpoint).to.equal("http://127.0.0.1:7001");
      expect(info.storageAsk.pricePerBytePerEpoch).to.equal(5n);
      expect(info.storageAsk.maxPieceSize).to.equal(1n << 30n);
      expect(info.retrievalAsk.pricePerByte).to.equal(3n);
      expect(info.registeredAt).to.equal(BigInt(await ethers.provider.getBlockNumber()));
      expect(await registry.isRegistered(a.address)).to.equal(true);
      expect(await registry.providerCount()).to.equal(1n);
      expect(await registry.listProviders(0, 10)).to.deep.equal([a.address]);
    });

    it("reverts when already registered", async () => {
      const { registry, a } = await loadFixture(fixture);
      await registry.connect(a).register("http://x", storageAsk, retrievalAsk);
      await expect(registry.connect(a).register("http://y", storageAsk, retrievalAsk))
        .to.be.revertedWithCustomError(registry, "AlreadyRegistered")
        .withArgs(a.address);
    });

    it("reverts on an empty or overlong endpoint", async () => {
      const { registry, a } = await loadFixture(fixture);
      await expect(registry.connect(a).register("", storageAsk, retrievalAsk))
        .to.be.revertedWithCustomError(registry, "InvalidEndpoint")
        .withArgs(0n);
      await expect(registry.connect(a).register("h".repeat(257), storageAsk, retrievalAsk))
        .to.be.revertedWithCustomError(registry, "InvalidEndpoint")
        .withArgs(257n);
    });

    for (const [min, max] of [
      [64n, 1024n],
      [256n, 128n],
      [384n, 1024n],
      [128n, 1000n],
    ]) {
      it(`reverts on piece sizes [${min}, ${max}]`, async () => {
        const { registry, a } = await loadFixture(fixture);
        await expect(
          registry
            .connect(a)
            .register("http://x", { ...storageAsk, minPieceSize: min, maxPieceSize: max }, retrievalAsk),
        )
          .to.be.revertedWithCustomError(registry, "InvalidPieceSizeRange")
          .withArgs(min, max);
      });
    }
  });

  describe("update", () => {
    it("replaces the endpoint and asks", async () => {
      const { registry, a } = await loadFixture(fixture);
      await registry.connect(a).register("http://x", storageAsk, retrievalAsk);
      await expect(registry.connect(a).update("http://z", { ...storageAsk, pricePerBytePerEpoch: 9n }, retrievalAsk))
        .to.emit(registry, "ProviderUpdated")
        .withArgs(a.address, "http://z");
      const info = await registry.getProvider(a.address);
      expect(info.endpoint).to.equal("http://z");
      expect(info.storageAsk.pricePerBytePerEpoch).to.equal(9n);
    });

    it("reverts for an unregistered caller", async () => {
      const { registry, b } = await loadFixture(fixture);
      await expect(registry.connect(b).update("http://z", storageAsk, retrievalAsk))
        .to.be.revertedWithCustomError(registry, "NotRegistered")
        .withArgs(b.address);
    });
  });

  describe("deregister", () => {
    it("removes the provider and keeps the list compact", async () => {
      const { registry, a, b, c } = await loadFixture(fixture);
      for (const s of [a, b, c]) await registry.connect(s).register(`http://${s.address}`, storageAsk, retrievalAsk);
      await expect(registry.connect(a).deregister()).to.emit(registry, "ProviderDeregistered").withArgs(a.address);
      expect(await registry.isRegistered(a.address)).to.equal(false);
      expect((await registry.getProvider(a.address)).registeredAt).to.equal(0n);
      expect(await registry.providerCount()).to.equal(2n);
      expect([...(await registry.listProviders(0, 100))].sort()).to.deep.equal([b.address, c.address].sort());
      await registry.connect(c).deregister();
      expect(await registry.listProviders(0, 100)).to.deep.equal([b.address]);
      await registry.connect(a).register("http://again", storageAsk, retrievalAsk);
      expect(await registry.providerCount()).to.equal(2n);
    });

    it("reverts for an unregistered caller", async () => {
      const { registry, b } = await loadFixture(fixture);
      await expect(registry.connect(b).deregister())
        .to.be.revertedWithCustomError(registry, "NotRegistered")
        .withArgs(b.address);
    });
  });

  describe("listProviders", () => {
    it("pages through the list and refuses pages above 100", async () => {
      const { registry, a, b, c } = await loadFixture(fixture);
      for (const s of [a, b, c]) await registry.connect(s).register("http://x", storageAsk, retrievalAsk);
      expect(await registry.listProviders(1, 1)).to.deep.equal([b.address]);
      expect(await registry.listProviders(2, 10)).to.deep.equal([c.address]);
      expect(await registry.listProviders(3, 10)).to.deep.equal([]);
      await expect(registry.listProviders(0, 101))
        .to.be.revertedWithCustomError(registry, "PageTooLarge")
        .withArgs(101n);
    });
  });
});
