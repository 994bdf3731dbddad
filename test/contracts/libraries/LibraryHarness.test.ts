import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { pieceGeometry } from "../../../actors-ts/piece/commp";
import { payloadCapacity, payloadLeaves } from "../helpers/market";

// The internal libraries through contracts/test/LibraryHarness.sol. The markets' publish and bid
// tests cover the same rules through their callers; these pin the library functions themselves.
describe("PieceSizes and TokenTransfers", () => {
  async function fixture() {
    const [deployer, payer] = await ethers.getSigners();
    const harness = await ethers.deployContract("LibraryHarness");
    const token = await ethers.deployContract("SkimmingTokenMock", [10n ** 24n]);
    await token.transfer(payer.address, 10n ** 6n);
    await token.connect(payer).approve(await harness.getAddress(), ethers.MaxUint256);
    return { deployer, payer, harness, token };
  }

  it("isPieceSize: powers of two of at least 128 bytes", async () => {
    const { harness } = await loadFixture(fixture);
    for (const size of [0n, 1n, 32n, 64n, 127n, 129n, 192n, 3n << 20n, (1n << 36n) + 1n]) {
      expect(await harness.isPieceSize(size), `size ${size}`).to.equal(false);
    }
    for (let log2 = 7n; log2 <= 63n; log2 += 7n) {
      expect(await harness.isPieceSize(1n << log2), `size 2^${log2}`).to.equal(true);
    }
  });

  it("minimalPayloadRange: exactly the payloads whose smallest piece is pieceSize", async () => {
    const { harness } = await loadFixture(fixture);
    for (let log2 = 7; log2 <= 36; log2++) {
      const pieceSize = 1n << BigInt(log2);
      const [min, max] = await harness.minimalPayloadRange(pieceSize);
      expect(max).to.equal(payloadCapacity(pieceSize));
      expect(min).to.equal(log2 === 7 ? 1n : max / 2n + 1n);
      // The agents' own geometry (actors-ts/piece) picks this piece size for min..max only.
      for (const payload of [min, max]) {
        expect(pieceGeometry(Number(payload)).paddedSize, `payload ${payload}`).to.equal(Number(pieceSize));
      }
      expect(pieceGeometry(Number(max + 1n)).paddedSize).to.equal(Number(pieceSize * 2n));
      if (log2 > 7) expect(pieceGeometry(Number(min - 1n)).paddedSize).to.equal(Number(pieceSize / 2n));
    }
  });

  it("payloadLeaves: ⌈4 · payloadSize / 127⌉", async () => {
    const { harness } = await loadFixture(fixture);
    for (const payload of [0n, 1n, 31n, 32n, 63n, 64n, 126n, 127n, 128n, 254n, 255n, (1n << 36n) - (1n << 29n)]) {
      expect(await harness.payloadLeaves(payload), `payload ${payload}`).to.equal(payloadLeaves(payload));
    }
  });

  it("pullReceived returns what arrived, not what was asked", async () => {
    const { payer, harness, token } = await loadFixture(fixture);
    const address = await harness.getAddress();
    await expect(harness.connect(payer).pull(token, 4n)).to.emit(harness, "Pulled").withArgs(4n);
    expect(await token.balanceOf(address)).to.equal(4n);
    // The mock moves one unit more than asked out of a skimmed sender when amount ≡ 2 (mod 3).
    await token.setSkimmed(payer.address);
    await expect(harness.connect(payer).pull(token, 5n)).to.emit(harness, "Pulled").withArgs(6n);
    expect(await token.balanceOf(address)).to.equal(10n);
    await expect(harness.connect(payer).pull(token, 10n ** 7n)).to.be.revertedWithCustomError(
      token,
      "ERC20InsufficientBalance",
    );
  });
});
