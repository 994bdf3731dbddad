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

describe("manifest: the coding field", () => {
  /** A Clay 2 + 2 manifest (d = 3: alpha 4) whose pieces are one stripe, so the layout checks pass. */
  function clayManifest(d = 3, shareSize = 4 * 127): Manifest {
    const pieces = [1, 2, 3, 4].map((seed) => {
      const c = commpOfBytes(new Uint8Array(shareSize).fill(seed));
      return { pieceCid: c.pieceCid, root: toHex(c.root), paddedSize: c.paddedSize, payloadSize: shareSize };
    });
    const body = {
      version: 1 as const,
      fileSize: 300,
      fileSha256: `0x${"ab".repeat(32)}` as Hex,
      k: 2,
      m: 2,
      shareSize,
      coding: { scheme: "clay" as const, d },
      pieces,
    };
    return { ...body, droot: manifestDroot(body).root };
  }

  it("a Reed–Solomon manifest has no coding field and the droot of before (v1 file leaf)", () => {
    const m = sampleManifest();
    expect(m).to.not.have.property("coding");
    expect(JSON.stringify(m)).to.not.include("coding");
    expect(verifyManifest(JSON.stringify(m)).coding).to.equal(undefined);
  });

  it("accepts a Clay manifest and keeps its coding", () => {
    const m = clayManifest();
    expect(verifyManifest(JSON.stringify(m), m.droot).coding).to.deep.equal({ scheme: "clay", d: 3 });
  });

  it("the droot binds the coding: dropping it, or changing d, breaks the hash", () => {
    const m = clayManifest();
    const { coding: _coding, ...withoutCoding } = m;
    expect(() => verifyManifest(withoutCoding)).to.throw(/does not hash to its droot/);
    // d = 2 is a Clay code too (alpha 1, and 4 · 127 is 1 · 127 · 2^2), but not this droot's.
    expect(() => verifyManifest({ ...m, coding: { scheme: "clay", d: 2 } })).to.throw(/does not hash to its droot/);
  });

  it("refuses Clay parameters clayParams refuses, an unknown scheme, and a share size that is not alpha · 127 · 2^j", () => {
    const bad = clayManifest();
    expect(() => verifyManifest({ ...bad, coding: { scheme: "clay", d: 4 } })).to.throw(/not a Clay code/);
    expect(() => verifyManifest({ ...bad, coding: { scheme: "clay", d: 1 } })).to.throw(/not a Clay code/);
    expect(() => verifyManifest({ ...bad, coding: { scheme: "lrc", d: 3 } })).to.throw(/schema/);
    const unaligned = clayManifest(3, 3 * 4 * 127);
    expect(() => verifyManifest(unaligned)).to.throw(/alpha sub-chunks of 127/);
  });
});
