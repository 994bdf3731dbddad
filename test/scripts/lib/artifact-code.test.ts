import { expect } from "chai";
import { artifacts, ethers } from "hardhat";
import type { Hex } from "viem";
import { DEFAULT_MARKET_PARAMS } from "../../../actors-ts/chain/deployment";
import {
  ARTIFACT_OF,
  compareWithArtifact,
  maskImmutables,
  readArtifactCode,
  stripMetadata,
  type ArtifactCode,
} from "../../../scripts/lib/artifact-code";

/** `code` with byte `offset` xor-ed with 0xff. */
function flipByte(code: Hex, offset: number): Hex {
  const bytes = Buffer.from(code.slice(2), "hex");
  bytes[offset] ^= 0xff;
  return `0x${bytes.toString("hex")}`;
}

describe("artifact code comparison", () => {
  let storageMarket: ArtifactCode;
  /** Runtime code of two StorageMarkets deployed with different parameters (immutables). */
  let deployedA: Hex;
  let deployedB: Hex;

  before(async () => {
    storageMarket = await readArtifactCode(artifacts, ARTIFACT_OF.StorageMarket);
    const token = await ethers.deployContract("PaymentToken", ["T", "T", 10n ** 24n]);
    const deploy = async (provingPeriodEpochs: bigint): Promise<Hex> => {
      const market = await ethers.deployContract("StorageMarket", [
        await token.getAddress(),
        { ...DEFAULT_MARKET_PARAMS, provingPeriodEpochs },
      ]);
      return (await ethers.provider.getCode(await market.getAddress())) as Hex;
    };
    deployedA = await deploy(30n);
    deployedB = await deploy(2880n);
  });

  it("reads the immutables' positions from the build info", () => {
    expect(storageMarket.artifact).to.equal("contracts/market/StorageMarket.sol:StorageMarket");
    expect(storageMarket.buildInfo).to.match(/^[0-9a-f]+$/);
    expect(storageMarket.immutables.length).to.be.greaterThan(5);
    for (const { start, length } of storageMarket.immutables) {
      expect(storageMarket.deployedBytecode.slice(2 + 2 * start, 2 + 2 * (start + length))).to.match(/^0+$/);
    }
  });

  it("matches code deployed with any constructor arguments, immutables masked", () => {
    expect(deployedA).not.to.equal(deployedB);
    expect(maskImmutables(deployedA, storageMarket.immutables)).to.equal(
      maskImmutables(deployedB, storageMarket.immutables),
    );
    expect(compareWithArtifact(deployedA, storageMarket)).to.deep.equal({ match: "exact" });
    expect(compareWithArtifact(deployedB, storageMarket)).to.deep.equal({ match: "exact" });
  });

  it("tells a metadata-only difference (edited sources) from different code", () => {
    const bytes = (deployedA.length - 2) / 2;
    const metadataLength = Buffer.from(deployedA.slice(-4), "hex").readUInt16BE(0);
    expect(stripMetadata(deployedA).length).to.equal(deployedA.length - 2 * (metadataLength + 2));
    const editedSources = flipByte(deployedA, bytes - 10);
    expect(compareWithArtifact(editedSources, storageMarket).match).to.equal("metadata");
    const otherCode = flipByte(deployedA, 100);
    expect(compareWithArtifact(otherCode, storageMarket)).to.deep.equal({
      match: "none",
      detail: "code differs from contracts/market/StorageMarket.sol:StorageMarket at byte 100",
    });
  });

  it("does not match another contract's code", async () => {
    const registry = await ethers.deployContract("ProviderRegistry");
    const code = (await ethers.provider.getCode(await registry.getAddress())) as Hex;
    const result = compareWithArtifact(code, storageMarket);
    expect(result.match).to.equal("none");
    expect(result.match === "none" && result.detail).to.match(/^code is \d+ bytes, .*StorageMarket is \d+$/);
  });
});
