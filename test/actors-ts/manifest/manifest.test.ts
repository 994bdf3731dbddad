import { expect } from "chai";
import type { Hex } from "viem";
import { manifestDroot, verifyManifest, type Manifest } from "../../../actors-ts/manifest/manifest";
import { commpOfBytes } from "../../../actors-ts/piece";
import { toHex } from "viem";

function sampleManifest(): Manifest {
  const pieces = [1, 2, 3].map((seed) => {
    const c = commpOfBytes(new Uint8Array(1000).fill(seed));
    return { pieceCid: c.pieceCid, root: toHex(c.root), paddedSize: c.paddedSize, payloadSize: 1000 };
  });
  const body = {
    version: 1 as const,
    fileSize: 1800,
    fileSha256: `0x${"ab".repeat(32)}` as Hex,
    k: 2,
    m: 1,
    shareSize: 1000,
    pieces,
  };
  return { ...body, droot: manifestDroot(body).root };
}

describe("manifest", () => {
  it("accepts a manifest that hashes to its droot", () => {
    const m = sampleManifest();
    expect(verifyManifest(JSON.stringify(m), m.droot).droot).to.equal(m.droot);
  });

  it("rejects a manifest whose file hash or size was changed (the droot binds them)", () => {
    const m = sampleManifest();
    expect(() => verifyManifest({ ...m, fileSha256: `0x${"cd".repeat(32)}` })).to.throw(/does not hash to its droot/);
    expect(() => verifyManifest({ ...m, fileSize: 1700 })).to.throw(/does not hash to its droot/);
  });

  it("rejects a manifest for another droot, with the wrong piece count, or a mismatched PieceCID", () => {
    const m = sampleManifest();
    expect(() => verifyManifest(m, `0x${"11".repeat(32)}`)).to.throw(/another droot/);
    expect(() => verifyManifest({ ...m, pieces: m.pieces.slice(0, 2) })).to.throw(/wrong number of pieces/);
    const swapped = { ...m, pieces: [{ ...m.pieces[0], pieceCid: m.pieces[1].pieceCid }, ...m.pieces.slice(1)] };
    expect(() => verifyManifest(swapped)).to.throw(/piece CID disagrees/);
    expect(() => verifyManifest("{not json")).to.throw(/not JSON/);
    expect(() => verifyManifest({ version: 2 })).to.throw(/schema/);
  });
});
