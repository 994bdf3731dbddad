import { expect } from "chai";
import { ethers } from "hardhat";
import { randomBytes } from "node:crypto";
import { encodeAbiParameters, keccak256, toHex, type Hex } from "viem";
import { buildDroot, fileLeaf, pieceLeaf } from "../../../actors-ts/manifest/droot";

describe("droot", () => {
  it("matches the contracts' leaf and OpenZeppelin's MerkleProof", async () => {
    const pieces = Array.from({ length: 6 }, () => ({
      pieceCid: ethers.hexlify(randomBytes(32)) as `0x${string}`,
      pieceSize: 2048n,
    }));
    const droot = buildDroot(pieces);
    const token = await ethers.deployContract("PaymentToken", ["T", "T", 1n]);
    const market = await ethers.deployContract("StorageMarket", [
      await token.getAddress(),
      {
        provingPeriodEpochs: 20,
        challengeWindowEpochs: 5,
        challengesPerProof: 5,
        maxConsecutiveFaults: 3,
        declaredFaultPenaltyBps: 0,
        reporterBountyBps: 0,
        faultReportBounty: 0,
        maxDealDurationEpochs: 1000,
      },
    ]);
    const repair = await ethers.deployContract("RepairMarket", [
      await token.getAddress(),
      await market.getAddress(),
      {
        pledgePerByte: 1,
        placementWindowEpochs: 10,
        repairWindowEpochs: 10,
        lostPieceSlashBps: 0,
        dataLossSlashBps: 0,
        slashBountyBps: 0,
        lossReportBountyBps: 0,
        maxDealDurationEpochs: 1000,
      },
    ]);
    for (let i = 0; i < pieces.length; i++) {
      expect(await repair.pieceLeaf(i, pieces[i].pieceCid, pieces[i].pieceSize)).to.equal(pieceLeaf(i, pieces[i]));
      expect(droot.leaf(i)).to.equal(pieceLeaf(i, pieces[i]));
    }
    const verifier = await ethers.deployContract("MerkleProofHarness");
    for (let i = 0; i < pieces.length; i++) {
      expect(await verifier.verify(droot.proof(i), droot.root, droot.leaf(i))).to.equal(true);
      expect(await verifier.verify(droot.proof(i), droot.root, pieceLeaf((i + 1) % 6, pieces[i]))).to.equal(false);
    }
  });

  it("refuses an empty file", () => {
    expect(() => buildDroot([])).to.throw(/at least one piece/);
  });
});

describe("droot file leaf", () => {
  const file = { fileSize: 1234, fileSha256: `0x${"ab".repeat(32)}` as Hex, k: 4, m: 2, shareSize: 1016 };

  it("a Reed–Solomon file keeps the v1 leaf, word for word", () => {
    const v1 = keccak256(
      encodeAbiParameters(
        [
          { type: "bytes32" },
          { type: "uint64" },
          { type: "bytes32" },
          { type: "uint8" },
          { type: "uint8" },
          { type: "uint64" },
        ],
        [keccak256(toHex("repair-market file v1")), 1234n, file.fileSha256, 4, 2, 1016n],
      ),
    );
    expect(fileLeaf(file)).to.equal(v1);
    expect(fileLeaf({ ...file, coding: undefined })).to.equal(v1);
  });

  it("a Clay file's leaf is v2 and binds the scheme (1) and d", () => {
    const v2 = keccak256(
      encodeAbiParameters(
        [
          { type: "bytes32" },
          { type: "uint64" },
          { type: "bytes32" },
          { type: "uint8" },
          { type: "uint8" },
          { type: "uint64" },
          { type: "uint8" },
          { type: "uint8" },
        ],
        [keccak256(toHex("repair-market file v2")), 1234n, file.fileSha256, 4, 2, 1016n, 1, 5],
      ),
    );
    expect(fileLeaf({ ...file, coding: { scheme: "clay", d: 5 } })).to.equal(v2);
    expect(fileLeaf({ ...file, coding: { scheme: "clay", d: 4 } })).to.not.equal(v2);
    expect(fileLeaf({ ...file, coding: { scheme: "clay", d: 5 } })).to.not.equal(fileLeaf(file));
  });
});
