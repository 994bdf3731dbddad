import { expect } from "chai";
import { createHash, randomBytes } from "node:crypto";
import { ErasurePool } from "../../../actors-ts/erasure/erasure-pool";
import { ChunkRootHasher } from "../../../actors-ts/piece/commp";
import { CHUNK_PAYLOAD_BYTES } from "../../../actors-ts/piece/constants";

/** The pool's hashing jobs answer what the same hash on the caller's thread does (decision 47). */
describe("ErasurePool: SHA-256 and chunk roots on the workers", function () {
  this.timeout(60_000);
  let pool: ErasurePool;
  before(() => {
    pool = new ErasurePool(2);
  });
  after(async () => {
    await pool.close();
  });

  it("hashes small Buffers that are views of Node's shared pool slab as their own bytes", async () => {
    // Buffer.concat of a few bytes is a view into the 8 KiB slab small Buffers share: sending the
    // slab instead of the view's bytes was a real bug of the first version.
    const parts = [Buffer.from("abc"), Buffer.concat([Buffer.from("de"), Buffer.from("f")]), randomBytes(5000)];
    expect(parts[1].buffer.byteLength).to.be.greaterThan(parts[1].length);
    // Computed first: a Buffer that owns its whole ArrayBuffer is transferred, not copied.
    const expected = createHash("sha256").update(Buffer.concat(parts)).digest("hex");
    await pool.sha256Start("t1");
    for (const part of parts) await pool.sha256Update("t1", part);
    expect(await pool.sha256Digest("t1")).to.equal(expected);
  });

  it("keeps two hashes apart and refuses a hash it does not know", async () => {
    await pool.sha256Start("a");
    await pool.sha256Start("b");
    await Promise.all([pool.sha256Update("a", Buffer.from("one")), pool.sha256Update("b", Buffer.from("two"))]);
    expect(await pool.sha256Digest("b")).to.equal(createHash("sha256").update("two").digest("hex"));
    expect(await pool.sha256Digest("a")).to.equal(createHash("sha256").update("one").digest("hex"));
    await pool.sha256Digest("a").then(
      () => expect.fail("a finished hash was digested twice"),
      (err: Error) => expect(err.message).to.match(/no hasher with this key/),
    );
  });

  it("gives a chunk's root as ChunkRootHasher does, and the buffer back", async () => {
    const hasher = new ChunkRootHasher();
    for (const length of [CHUNK_PAYLOAD_BYTES, 1000]) {
      const data = new ArrayBuffer(CHUNK_PAYLOAD_BYTES);
      const bytes = new Uint8Array(data);
      bytes.set(randomBytes(length));
      const expected = hasher.root(bytes.subarray(0, length));
      const answer = await pool.chunkRoot(data, length);
      expect(Buffer.from(answer.root).equals(Buffer.from(expected))).to.equal(true);
      expect(answer.data.byteLength).to.equal(CHUNK_PAYLOAD_BYTES);
    }
  });
});
