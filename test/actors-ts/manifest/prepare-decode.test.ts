import { expect } from "chai";
import { randomBytes, createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ErasurePool } from "../../../actors-ts/erasure/erasure-pool";
import { prepareFile } from "../../../actors-ts/manifest/prepare";
import { decodeFile, rebuildPieces } from "../../../actors-ts/manifest/decode";
import { verifyManifest } from "../../../actors-ts/manifest/manifest";
import { commpOfBytes } from "../../../actors-ts/piece";

function combinations(n: number, k: number): number[][] {
  if (k === 0) return [[]];
  if (n < k) return [];
  return [...combinations(n - 1, k - 1).map((c) => [...c, n - 1]), ...combinations(n - 1, k)];
}

describe("prepareFile / decodeFile / rebuildPieces", function () {
  this.timeout(120_000);
  let pool: ErasurePool;
  let dir: string;

  before(async () => {
    pool = new ErasurePool(2);
    dir = await mkdtemp(join(tmpdir(), "prepare-"));
  });
  after(async () => {
    await pool.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function prepared(size: number, k: number, m: number, shareSize?: number) {
    const file = join(dir, `file-${size}-${k}-${m}-${shareSize ?? "auto"}`);
    const bytes = randomBytes(size);
    await writeFile(file, bytes);
    const out = join(dir, `pieces-${size}-${k}-${m}-${shareSize ?? "auto"}`);
    const result = await prepareFile(file, { k, m, shareSize, outDir: out, pool });
    return { bytes, file, ...result };
  }

  it("refuses a 0-byte file, naming it (an empty piece shares its commitment with every all-zero piece)", async () => {
    const file = join(dir, "empty");
    await writeFile(file, Buffer.alloc(0));
    const err = await prepareFile(file, { k: 4, m: 2, outDir: join(dir, "empty-out"), pool }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.name).to.equal("InvalidArgumentError");
    expect(err?.message).to.include(`${file} is empty (0 bytes): there is nothing to store`);
  });

  it("writes k + m pieces whose CommPs, droot and manifest check out", async () => {
    const { bytes, manifest, piecePaths } = await prepared(300_000, 4, 2, 4064);
    expect(manifest.fileSha256).to.equal(`0x${createHash("sha256").update(bytes).digest("hex")}`);
    expect(piecePaths).to.have.length(6);
    for (const [i, path] of piecePaths.entries()) {
      const piece = await readFile(path);
      expect(piece.length).to.equal(manifest.pieces[i].payloadSize);
      expect(commpOfBytes(piece).pieceCid).to.equal(manifest.pieces[i].pieceCid);
    }
    // The first k pieces hold the file's bytes share by share.
    const first = await readFile(piecePaths[0]);
    expect(first.subarray(0, 4064).equals(bytes.subarray(0, 4064))).to.equal(true);
    const second = await readFile(piecePaths[1]);
    expect(second.subarray(0, 4064).equals(bytes.subarray(4064, 8128))).to.equal(true);
    expect(verifyManifest(JSON.parse(JSON.stringify(manifest)), manifest.droot).droot).to.equal(manifest.droot);
  });

  it("decodes the file byte-identical from every combination of k of n pieces (4 + 2)", async () => {
    const { bytes, manifest, piecePaths } = await prepared(1_000_003, 4, 2, 127 * 256);
    for (const keep of combinations(6, 4)) {
      const out = join(dir, `decoded-${keep.join("")}`);
      await decodeFile(
        manifest,
        piecePaths.map((p, i) => (keep.includes(i) ? p : undefined)),
        out,
        pool,
      );
      expect((await readFile(out)).equals(bytes), `pieces ${keep.join(",")}`).to.equal(true);
    }
  });

  for (const size of [1, 126, 127 * 4 + 1]) {
    it(`round-trips a ${size}-byte file with the default share size`, async () => {
      const { bytes, manifest, piecePaths } = await prepared(size, 3, 2);
      const out = join(dir, `small-${size}`);
      await decodeFile(manifest, [undefined, piecePaths[1], undefined, piecePaths[3], piecePaths[4]], out, pool);
      expect((await readFile(out)).equals(bytes)).to.equal(true);
    });
  }

  it("rebuilds lost data and parity pieces byte-identical, with their CommPs", async () => {
    const { manifest, piecePaths } = await prepared(700_000, 4, 2, 127 * 64);
    const out = join(dir, "rebuilt");
    await rm(out, { recursive: true, force: true });
    await import("node:fs/promises").then((fs) => fs.mkdir(out, { recursive: true }));
    const rebuilt = await rebuildPieces(
      manifest,
      [undefined, piecePaths[1], piecePaths[2], piecePaths[3], undefined, piecePaths[5]],
      [0, 4],
      out,
      pool,
    );
    for (const i of [0, 4]) {
      const entry = rebuilt.get(i);
      expect((await readFile(entry?.path ?? "")).equals(await readFile(piecePaths[i]))).to.equal(true);
      expect(entry?.digest.pieceCid).to.equal(manifest.pieces[i].pieceCid);
    }
  });

  it("refuses to decode from fewer than k pieces and rejects a wrong file hash", async () => {
    const { manifest, piecePaths } = await prepared(5000, 2, 1);
    let error: Error | undefined;
    try {
      await decodeFile(manifest, [piecePaths[0], undefined, undefined], join(dir, "x"), pool);
    } catch (err) {
      error = err as Error;
    }
    expect(error?.message).to.match(/fewer than k pieces/);
    const lying = { ...manifest, fileSha256: `0x${"00".repeat(32)}` as `0x${string}` };
    error = undefined;
    try {
      await decodeFile(lying, piecePaths, join(dir, "y"), pool);
    } catch (err) {
      error = err as Error;
    }
    expect(error?.name).to.equal("FileHashMismatchError");
  });
});
