import { expect } from "chai";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ErasurePool } from "../../../actors-ts/erasure/erasure-pool";
import { clayParams } from "../../../actors-ts/erasure/clay";
import { isClayShareSize } from "../../../actors-ts/erasure/layout";
import { prepareFile } from "../../../actors-ts/manifest/prepare";
import { decodeFile, rebuildPieces } from "../../../actors-ts/manifest/decode";
import { verifyManifest } from "../../../actors-ts/manifest/manifest";
import { commpOfBytes } from "../../../actors-ts/piece";

function combinations(n: number, k: number): number[][] {
  if (k === 0) return [[]];
  if (n < k) return [];
  return [...combinations(n - 1, k - 1).map((c) => [...c, n - 1]), ...combinations(n - 1, k)];
}

/** mulberry32: seeded, so the sampled patterns and bytes are the same every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function seededBytes(size: number, seed: number): Buffer {
  const random = seeded(seed);
  return Buffer.from(Uint8Array.from({ length: size }, () => Math.floor(random() * 256)));
}

describe("Clay files: prepareFile / decodeFile / rebuildPieces", function () {
  this.timeout(300_000);
  let pool: ErasurePool;
  let dir: string;

  before(async () => {
    pool = new ErasurePool(2);
    dir = await mkdtemp(join(tmpdir(), "clay-files-"));
  });
  after(async () => {
    await pool.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function prepared(size: number, k: number, m: number, seed: number) {
    const file = join(dir, `file-${size}-${k}-${m}`);
    const bytes = seededBytes(size, seed);
    await writeFile(file, bytes);
    const out = join(dir, `pieces-${size}-${k}-${m}`);
    const coding = { scheme: "clay" as const, d: k + m - 1 };
    const result = await prepareFile(file, { k, m, coding, outDir: out, pool });
    return { bytes, ...result };
  }

  async function expectPiecesCheckOut(manifest: Awaited<ReturnType<typeof prepared>>["manifest"], paths: string[]) {
    for (const [i, path] of paths.entries()) {
      expect(commpOfBytes(await readFile(path)).pieceCid, `piece ${i}`).to.equal(manifest.pieces[i].pieceCid);
    }
  }

  it("4 + 2: a Clay manifest (coding, aligned shares) that verifies; the file back from all 15 patterns of 4 pieces", async () => {
    const { bytes, manifest, piecePaths } = await prepared(200_003, 4, 2, 1);
    expect(manifest.coding).to.deep.equal({ scheme: "clay", d: 5 });
    expect(isClayShareSize(manifest.shareSize, clayParams(4, 2).alpha)).to.equal(true);
    expect(manifest.fileSha256).to.equal(`0x${createHash("sha256").update(bytes).digest("hex")}`);
    expect(verifyManifest(JSON.parse(JSON.stringify(manifest)), manifest.droot).coding).to.deep.equal(manifest.coding);
    await expectPiecesCheckOut(manifest, piecePaths);
    // Systematic: the first data piece starts with the file's first share.
    const first = await readFile(piecePaths[0]);
    expect(first.subarray(0, manifest.shareSize).equals(bytes.subarray(0, manifest.shareSize))).to.equal(true);
    const patterns = combinations(6, 4);
    expect(patterns).to.have.length(15);
    for (const keep of patterns) {
      const out = join(dir, `decoded-4-2-${keep.join("")}`);
      await decodeFile(
        manifest,
        piecePaths.map((p, i) => (keep.includes(i) ? p : undefined)),
        out,
        pool,
      );
      expect((await readFile(out)).equals(bytes), `pieces ${keep.join(",")}`).to.equal(true);
    }
  });

  it("4 + 2: rebuildPieces gives lost data and parity pieces byte-identical, with the manifest's CommPs", async () => {
    const { manifest, piecePaths } = await prepared(200_003, 4, 2, 1);
    for (const lost of [[0], [5], [1, 4]]) {
      const out = join(dir, `rebuilt-4-2-${lost.join("")}`);
      await mkdir(out, { recursive: true });
      const rebuilt = await rebuildPieces(
        manifest,
        piecePaths.map((p, i) => (lost.includes(i) ? undefined : p)),
        lost,
        out,
        pool,
      );
      for (const i of lost) {
        const entry = rebuilt.get(i);
        expect(entry?.digest.pieceCid, `piece ${i}`).to.equal(manifest.pieces[i].pieceCid);
        expect((await readFile(entry?.path ?? "")).equals(await readFile(piecePaths[i]))).to.equal(true);
      }
    }
  });

  it("10 + 4 (alpha 256): the file back from a seeded sample of 10-piece patterns, and a rebuilt piece's CommP", async () => {
    const { bytes, manifest, piecePaths } = await prepared(700_001, 10, 4, 2);
    expect(manifest.coding).to.deep.equal({ scheme: "clay", d: 13 });
    expect(isClayShareSize(manifest.shareSize, 256)).to.equal(true);
    await expectPiecesCheckOut(manifest, piecePaths);
    const all = combinations(14, 10);
    const random = seeded(7);
    const sample = [
      all[0],
      all[all.length - 1],
      ...Array.from({ length: 6 }, () => all[Math.floor(random() * all.length)]),
    ];
    for (const keep of sample) {
      const out = join(dir, `decoded-10-4-${keep.join("-")}`);
      await decodeFile(
        manifest,
        piecePaths.map((p, i) => (keep.includes(i) ? p : undefined)),
        out,
        pool,
      );
      expect((await readFile(out)).equals(bytes), `pieces ${keep.join(",")}`).to.equal(true);
    }
    const out = join(dir, "rebuilt-10-4");
    await mkdir(out, { recursive: true });
    const lost = [3, 12];
    const rebuilt = await rebuildPieces(
      manifest,
      piecePaths.map((p, i) => (lost.includes(i) ? undefined : p)),
      lost,
      out,
      pool,
    );
    for (const i of lost) expect(rebuilt.get(i)?.digest.pieceCid, `piece ${i}`).to.equal(manifest.pieces[i].pieceCid);
  });

  it("refuses a Clay share size that is not alpha sub-chunks of 127 · 2^j bytes, before encoding", async () => {
    const file = join(dir, "unaligned");
    await writeFile(file, seededBytes(5000, 3));
    const err = await prepareFile(file, {
      k: 4,
      m: 2,
      coding: { scheme: "clay", d: 5 },
      shareSize: 8 * 127 * 3,
      outDir: join(dir, "unaligned-out"),
      pool,
    }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).to.match(/alpha sub-chunks of 127/);
  });
});
