import { Worker } from "node:worker_threads";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { ErasureCodingError } from "./reed-solomon";
import type { WorkerReply, WorkerRequest } from "./erasure-protocol";
import type { PieceCommitment } from "../piece/commp";
import type { FileCoding } from "./coding";

const WORKER_PATH = join(__dirname, "erasure-worker.ts");

/** A CommP result from a pool hasher, with the chunk roots a prover caches. */
export interface PoolDigest extends PieceCommitment {
  /** Roots of the 2^15-leaf chunks, 32 bytes each, back to back. */
  chunkRoots: Uint8Array;
}

/**
 * A pool of worker threads for the CPU-heavy data-plane work: Reed–Solomon or Clay encode and
 * rebuild (round-robin over workers) and CommP hashing (each hasher pinned to one worker, so its chunks
 * are hashed in order). Byte buffers passed in are transferred to the worker and become unusable
 * in the caller.
 *
 * @example
 * const pool = new ErasurePool();
 * try { const pieces = await pool.encode(4, 2, 65_024, 8, stripeBytes); } finally { await pool.close(); }
 */
export class ErasurePool {
  private readonly workers: Worker[];
  private readonly pending = new Map<number, { resolve: (r: WorkerReply) => void; reject: (e: Error) => void }>();
  private readonly hasherHome = new Map<string, Worker>();
  private nextId = 1;
  private nextWorker = 0;
  private failure: Error | undefined;

  /** @param size Worker threads (default: the machine's parallelism). */
  constructor(size = availableParallelism()) {
    this.workers = Array.from({ length: Math.max(1, size) }, () => {
      const worker = new Worker(WORKER_PATH, { execArgv: ["--require", require.resolve("tsx/cjs")] });
      worker.on("message", (reply: WorkerReply) => this.settle(reply));
      worker.on("error", (err) => this.fail(err));
      worker.on("exit", (code) => {
        if (code !== 0) this.fail(new Error(`erasure worker exited with code ${code}`));
      });
      return worker;
    });
  }

  /** Number of worker threads. */
  get size(): number {
    return this.workers.length;
  }

  /**
   * Encodes `stripes` stripes of file bytes (k · shareSize each; a short tail is zero-padded).
   *
   * @param coding Reed–Solomon when undefined; Clay: shareSize must be a multiple of alpha.
   * @returns n piece chunks of stripes · shareSize bytes: chunk i is share i of each stripe.
   */
  async encode(
    k: number,
    m: number,
    shareSize: number,
    stripes: number,
    data: Uint8Array,
    coding?: FileCoding,
  ): Promise<Uint8Array[]> {
    const buffer = toTransferable(data);
    const job = { id: 0, k, m, shareSize, stripes, data: buffer };
    const message: WorkerRequest = coding ? { ...job, type: "clay-encode", d: coding.d } : { ...job, type: "encode" };
    const reply = await this.request(this.roundRobin(), message, [buffer]);
    return (reply as Extract<WorkerReply, { type: "pieces" }>).pieces.map((b) => new Uint8Array(b));
  }

  /**
   * Rebuilds shares from at least k present piece chunks of the same stripes.
   *
   * @param shares One entry per share index: a chunk of stripes · shareSize bytes, or null.
   * @param want Share indices to return.
   * @param coding Reed–Solomon when undefined; Clay decodes whole stripes (every sub-chunk plane).
   * @returns The wanted chunks, in `want` order.
   */
  async reconstruct(
    k: number,
    m: number,
    shareSize: number,
    stripes: number,
    shares: (Uint8Array | null)[],
    want: number[],
    coding?: FileCoding,
  ): Promise<Uint8Array[]> {
    const buffers = shares.map((s) => (s ? toTransferable(s) : null));
    const job = { id: 0, k, m, shareSize, stripes, shares: buffers, want };
    const message: WorkerRequest = coding
      ? { ...job, type: "clay-decode", d: coding.d }
      : { ...job, type: "reconstruct" };
    const reply = await this.request(
      this.roundRobin(),
      message,
      buffers.filter((b): b is ArrayBuffer => b !== null),
    );
    return (reply as Extract<WorkerReply, { type: "pieces" }>).pieces.map((b) => new Uint8Array(b));
  }

  /**
   * The root of one 2^15-leaf chunk of payload (what `ChunkRootHasher.root` gives), computed on
   * the next worker: how a fetch checks its chunks off the event loop.
   *
   * @param data Holds the chunk's payload in its first `length` bytes (at most 1,040,384; a
   *   shorter chunk is zero-padded); transferred to the worker and given back in the answer, so
   *   the caller can reuse it.
   * @returns The 32-byte root, and `data` back.
   * @throws ErasureCodingError when `length` exceeds a chunk or the pool is closed.
   */
  async chunkRoot(data: ArrayBuffer, length: number): Promise<{ root: Uint8Array; data: ArrayBuffer }> {
    const reply = (await this.request(this.roundRobin(), { type: "chunk-root", id: 0, data, length }, [
      data,
    ])) as Extract<WorkerReply, { type: "chunk-root" }>;
    return { root: new Uint8Array(reply.root), data: reply.data };
  }

  /**
   * Starts a SHA-256 hash named `key` on the next worker (a rebuilt file's check, off the event
   * loop); {@link sha256Update} feeds it in order and {@link sha256Digest} ends it.
   */
  async sha256Start(key: string): Promise<void> {
    const worker = this.roundRobin();
    this.hasherHome.set(key, worker);
    await this.request(worker, { type: "sha256-start", id: 0, key }, []);
  }

  /**
   * Feeds `data` to SHA-256 hash `key`; resolves once the worker has hashed it (so a caller can
   * bound what is queued). `data` is transferred (copied first when it is a view).
   *
   * @throws ErasureCodingError when there is no such hash or the pool is closed.
   */
  async sha256Update(key: string, data: Uint8Array): Promise<void> {
    const buffer = toTransferable(data);
    await this.request(this.home(key), { type: "sha256-update", id: 0, key, data: buffer }, [buffer]);
  }

  /**
   * Ends SHA-256 hash `key`.
   *
   * @returns The digest, 64 lowercase hex characters.
   * @throws ErasureCodingError when there is no such hash or the pool is closed.
   */
  async sha256Digest(key: string): Promise<string> {
    const worker = this.home(key);
    this.hasherHome.delete(key);
    const reply = await this.request(worker, { type: "sha256-digest", id: 0, key }, []);
    return (reply as Extract<WorkerReply, { type: "sha256" }>).digest;
  }

  /** Starts a CommP hasher named `key` on the next worker. */
  async hashStart(key: string): Promise<void> {
    const worker = this.roundRobin();
    this.hasherHome.set(key, worker);
    await this.request(worker, { type: "hash-start", id: 0, key }, []);
  }

  /** Feeds bytes to hasher `key` (fire and forget; order is kept per worker). */
  hashUpdate(key: string, data: Uint8Array): void {
    const worker = this.home(key);
    const buffer = toTransferable(data);
    worker.postMessage({ type: "hash-update", key, data: buffer } satisfies WorkerRequest, [buffer]);
  }

  /** Finishes hasher `key`. */
  async hashDigest(key: string): Promise<PoolDigest> {
    const worker = this.home(key);
    this.hasherHome.delete(key);
    const reply = (await this.request(worker, { type: "hash-digest", id: 0, key }, [])) as Extract<
      WorkerReply,
      { type: "digest" }
    >;
    return {
      root: new Uint8Array(reply.root),
      payloadSize: reply.payloadSize,
      paddedSize: reply.paddedSize,
      height: reply.height,
      pieceCid: reply.pieceCid,
      chunkRoots: new Uint8Array(reply.chunkRoots),
    };
  }

  /** Stops every worker; pending jobs are rejected. */
  async close(): Promise<void> {
    this.fail(new Error("erasure pool closed"));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private home(key: string): Worker {
    const worker = this.hasherHome.get(key);
    if (!worker) throw new ErasureCodingError("no hasher with this key", { details: { key } });
    return worker;
  }

  private roundRobin(): Worker {
    const worker = this.workers[this.nextWorker];
    this.nextWorker = (this.nextWorker + 1) % this.workers.length;
    return worker;
  }

  private request(worker: Worker, message: WorkerRequest, transfer: ArrayBuffer[]): Promise<WorkerReply> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ ...message, id }, transfer);
    });
  }

  private settle(reply: WorkerReply): void {
    const entry = this.pending.get(reply.id);
    if (!entry) return;
    this.pending.delete(reply.id);
    if (reply.type === "error") {
      entry.reject(new ErasureCodingError(`worker job failed: ${reply.message}`, { details: { name: reply.name } }));
    } else {
      entry.resolve(reply);
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const entry of this.pending.values()) entry.reject(err);
    this.pending.clear();
  }
}

/** An ArrayBuffer holding exactly `bytes` (copied when `bytes` is a view into a larger buffer). */
function toTransferable(bytes: Uint8Array): ArrayBuffer {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) {
    return bytes.buffer;
  }
  // Not `bytes.slice()`: on a Buffer that is a view of the same memory (its `.buffer` can be the
  // shared pool slab of small Buffers).
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy.buffer;
}
