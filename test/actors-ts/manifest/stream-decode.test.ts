import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { appendFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ByteSink } from "../../../actors-ts/core/byte-sink";
import { ErasurePool } from "../../../actors-ts/erasure/erasure-pool";
import type { Manifest } from "../../../actors-ts/manifest/manifest";
import { prepareFile } from "../../../actors-ts/manifest/prepare";
import { VerifiedPieces, decodeWhileVerified } from "../../../actors-ts/manifest/stream-decode";
import { waitFor } from "../../helpers/wait";

/** A sink keeping what it is given, in order. */
function memorySink(): ByteSink & { bytes(): Buffer } {
  const chunks: Buffer[] = [];
  return {
    async write(bytes) {
      chunks.push(Buffer.from(bytes));
    },
    async commit() {},
    async abort() {},
    bytes: () => Buffer.concat(chunks),
  };
}

describe("decodeWhileVerified: the file rebuilt in order while its pieces arrive", function () {
  this.timeout(120_000);
  let pool: ErasurePool;
  let dir: string;
  let file: Buffer;
  let manifest: Manifest;
  let pieces: Buffer[];
  const shareSize = 127 * 64;

  before(async () => {
    pool = new ErasurePool(2);
    dir = await mkdtemp(join(tmpdir(), "stream-decode-"));
    file = randomBytes(2_000_003);
    await writeFile(join(dir, "file"), file);
    const prepared = await prepareFile(join(dir, "file"), { k: 4, m: 2, shareSize, outDir: join(dir, "pieces"), pool });
    manifest = prepared.manifest;
    pieces = await Promise.all(prepared.piecePaths.map((p) => readFile(p)));
  });
  after(async () => {
    await pool.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** A fetch in the small: appends piece `index`'s bytes to `path` up to `stripes` and marks them. */
  async function arrive(verified: VerifiedPieces, index: number, path: string, from: number, to: number) {
    await appendFile(path, pieces[index].subarray(from * shareSize, to * shareSize));
    verified.mark(index, path, to * shareSize);
  }

  it("writes each stripe once k pieces are verified past it, before the fetches end, then the rest", async () => {
    const stripes = manifest.pieces[0].payloadSize / shareSize;
    expect(stripes).to.be.greaterThan(40);
    const verified = new VerifiedPieces(6);
    const sink = memorySink();
    const paths = [0, 1, 2, 3, 4].map((i) => join(dir, `a-${i}`));
    const decoding = decodeWhileVerified(manifest, verified, sink, pool);
    let settled = false;
    void decoding.finally(() => (settled = true));

    // Three data pieces 10 stripes in, the fourth at 6: six stripes can be written, no more.
    for (const i of [0, 1, 3]) await arrive(verified, i, paths[i], 0, 10);
    await arrive(verified, 2, paths[2], 0, 6);
    await waitFor("six stripes written", 10_000, async () => (sink.bytes().length > 0 ? true : undefined));
    expect(sink.bytes().equals(file.subarray(0, 6 * 4 * shareSize))).to.equal(true);

    // Piece 2's fetch fails there; a parity piece takes over: stripes from 6 on are decoded.
    await arrive(verified, 4, paths[4], 0, 20);
    await waitFor("ten stripes written", 10_000, async () =>
      sink.bytes().length === 10 * 4 * shareSize ? true : undefined,
    );
    expect(sink.bytes().equals(file.subarray(0, 10 * 4 * shareSize))).to.equal(true);
    expect(settled).to.equal(false);

    for (const i of [0, 1, 3]) await arrive(verified, i, paths[i], 10, stripes);
    await arrive(verified, 4, paths[4], 20, stripes);
    verified.end();
    await decoding;
    expect(sink.bytes().equals(file)).to.equal(true);
  });

  it("a verified prefix is used up to where it reaches, never past it", async () => {
    const stripes = manifest.pieces[0].payloadSize / shareSize;
    const verified = new VerifiedPieces(6);
    const sink = memorySink();
    // Data piece 0 only ever gets 3 stripes; parity 5 and the other data pieces are whole.
    await arrive(verified, 0, join(dir, "b-0"), 0, 3);
    for (const i of [1, 2, 3, 5]) await arrive(verified, i, join(dir, `b-${i}`), 0, stripes);
    verified.end();
    await decodeWhileVerified(manifest, verified, sink, pool);
    expect(sink.bytes().equals(file)).to.equal(true);
  });

  it("fetches that end without k pieces verified to the end: PiecesEndedEarlyError, and only verified stripes written", async () => {
    const verified = new VerifiedPieces(6);
    const sink = memorySink();
    for (const i of [0, 1, 2, 3]) await arrive(verified, i, join(dir, `c-${i}`), 0, 5);
    verified.end();
    const err = await decodeWhileVerified(manifest, verified, sink, pool).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.name).to.equal("PiecesEndedEarlyError");
    expect(err?.message).to.include("before k pieces were verified to the end");
    expect(sink.bytes().equals(file.subarray(0, 5 * 4 * shareSize))).to.equal(true);
  });

  it("fetches that fail: the decoder stops with their error; a sink that fails stops the decoder with its error", async () => {
    const failing = new VerifiedPieces(6);
    const decoding = decodeWhileVerified(manifest, failing, memorySink(), pool);
    failing.end(new Error("no holder left for piece 3"));
    expect(
      await decoding.then(
        () => "",
        (e: Error) => e.message,
      ),
    ).to.equal("no holder left for piece 3");

    const verified = new VerifiedPieces(6);
    for (const i of [0, 1, 2, 3]) await arrive(verified, i, join(dir, `d-${i}`), 0, 2);
    const broken: ByteSink = {
      write: async () => Promise.reject(Object.assign(new Error("write EPIPE"), { code: "EPIPE" })),
      commit: async () => undefined,
      abort: async () => undefined,
    };
    expect(
      await decodeWhileVerified(manifest, verified, broken, pool).then(
        () => "",
        (e: Error) => e.message,
      ),
    ).to.equal("write EPIPE");
  });

  it("a file whose bytes do not hash to the manifest's SHA-256 is refused after the last stripe", async () => {
    const stripes = manifest.pieces[0].payloadSize / shareSize;
    const verified = new VerifiedPieces(6);
    for (const i of [0, 1, 2, 3]) await arrive(verified, i, join(dir, `e-${i}`), 0, stripes);
    verified.end();
    const lying = { ...manifest, fileSha256: `0x${"00".repeat(32)}` as const };
    const err = await decodeWhileVerified(lying, verified, memorySink(), pool).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.name).to.equal("FileHashMismatchError");
  });
});
