/**
 * Worker thread of {@link ErasurePool}: Reed–Solomon jobs (synchronous WASM), Clay jobs (pure
 * TypeScript, one stripe at a time) and stateful CommP
 * hashers, so neither blocks the agent's event loop. Messages are plain objects; byte buffers are
 * transferred, not copied.
 */
import { createHash, type Hash } from "node:crypto";
import { parentPort } from "node:worker_threads";
import { encodeStripe, reconstructStripe } from "./reed-solomon";
import { ChunkRootHasher, CommPHasher } from "../piece/commp";
import type { WorkerReply, WorkerRequest } from "./erasure-protocol";
import { InvalidStateError } from "../core/errors";
import { clayDecode, clayEncode, clayParams } from "./clay";

type Job<T extends WorkerRequest["type"]> = Extract<WorkerRequest, { type: T }>;

/** Reed–Solomon encode of `stripes` stripes: each stripe's k data shares (zero-padded tail), n pieces out. */
function rsEncodeJob(req: Job<"encode">): ArrayBuffer[] {
  const { k, m, shareSize, stripes } = req;
  const n = k + m;
  const data = new Uint8Array(req.data);
  const pieces = Array.from({ length: n }, () => new Uint8Array(stripes * shareSize));
  const stripe = new Uint8Array(n * shareSize);
  for (let s = 0; s < stripes; s++) {
    stripe.fill(0);
    const from = s * k * shareSize;
    stripe.set(data.subarray(from, Math.min(from + k * shareSize, data.length)), 0);
    encodeStripe(stripe, k, m);
    for (let i = 0; i < n; i++) pieces[i].set(stripe.subarray(i * shareSize, (i + 1) * shareSize), s * shareSize);
  }
  return pieces.map((p) => p.buffer);
}

/** Reed–Solomon rebuild of `stripes` stripes from the shares given (at least k), returning the wanted ones. */
function rsReconstructJob(req: Job<"reconstruct">): ArrayBuffer[] {
  const { k, m, shareSize, stripes, want } = req;
  const n = k + m;
  const shares = req.shares.map((b) => (b ? new Uint8Array(b) : undefined));
  const present = shares.map((s) => s !== undefined);
  const out = want.map(() => new Uint8Array(stripes * shareSize));
  const stripe = new Uint8Array(n * shareSize);
  for (let s = 0; s < stripes; s++) {
    stripe.fill(0);
    shares.forEach((share, i) => {
      if (share) stripe.set(share.subarray(s * shareSize, (s + 1) * shareSize), i * shareSize);
    });
    reconstructStripe(stripe, k, m, present);
    want.forEach((i, j) => out[j].set(stripe.subarray(i * shareSize, (i + 1) * shareSize), s * shareSize));
  }
  return out.map((p) => p.buffer);
}

/** Clay encode of `stripes` stripes: each stripe's k data shares (zero-padded tail), m parity out. */
function clayEncodeJob(req: Job<"clay-encode">): ArrayBuffer[] {
  const { k, m, d, shareSize, stripes } = req;
  const params = clayParams(k, m, d);
  const subChunkSize = shareSize / params.alpha;
  const data = new Uint8Array(req.data);
  const pieces = Array.from({ length: k + m }, () => new Uint8Array(stripes * shareSize));
  const stripe = new Uint8Array(k * shareSize);
  for (let s = 0; s < stripes; s++) {
    stripe.fill(0);
    const from = s * k * shareSize;
    stripe.set(data.subarray(from, Math.min(from + k * shareSize, data.length)), 0);
    const shares = Array.from({ length: k }, (_, i) => stripe.subarray(i * shareSize, (i + 1) * shareSize));
    const parity = clayEncode(params, shares, subChunkSize);
    shares.forEach((share, i) => pieces[i].set(share, s * shareSize));
    parity.forEach((share, j) => pieces[k + j].set(share, s * shareSize));
  }
  return pieces.map((p) => p.buffer);
}

/** Clay decode of `stripes` stripes from the shares given (at least k), returning the wanted ones. */
function clayDecodeJob(req: Job<"clay-decode">): ArrayBuffer[] {
  const { k, m, d, shareSize, stripes, want } = req;
  const params = clayParams(k, m, d);
  const subChunkSize = shareSize / params.alpha;
  const given = req.shares.map((b) => (b ? new Uint8Array(b) : undefined));
  const out = want.map(() => new Uint8Array(stripes * shareSize));
  for (let s = 0; s < stripes; s++) {
    const shares = given.map((share) => share?.subarray(s * shareSize, (s + 1) * shareSize));
    const all = clayDecode(params, shares, subChunkSize);
    want.forEach((i, j) => out[j].set(all[i], s * shareSize));
  }
  return out.map((p) => p.buffer);
}

/** Checks chunks for fetches: one per worker, its buffers allocated once. */
const chunkRootHasher = new ChunkRootHasher();

/** Running SHA-256 hashes of rebuilt files, by key. */
const fileHashes = new Map<string, Hash>();

/** The SHA-256 hash `key`, or InvalidStateError. */
function fileHash(key: string): Hash {
  const hash = fileHashes.get(key);
  if (!hash) throw new InvalidStateError("no SHA-256 hash with this key in the worker", { details: { key } });
  return hash;
}

const hashers = new Map<string, { hasher: CommPHasher; chunkRoots: Uint8Array[] }>();

function handle(req: WorkerRequest): WorkerReply | undefined {
  switch (req.type) {
    case "encode":
      return { id: req.id, type: "pieces", pieces: rsEncodeJob(req) };
    case "reconstruct":
      return { id: req.id, type: "pieces", pieces: rsReconstructJob(req) };
    case "clay-encode":
      return { id: req.id, type: "pieces", pieces: clayEncodeJob(req) };
    case "clay-decode":
      return { id: req.id, type: "pieces", pieces: clayDecodeJob(req) };
    case "chunk-root": {
      const root = chunkRootHasher.root(new Uint8Array(req.data, 0, req.length));
      return {
        id: req.id,
        type: "chunk-root",
        root: root.buffer.slice(root.byteOffset, root.byteOffset + 32) as ArrayBuffer,
        data: req.data,
      };
    }
    case "sha256-start":
      fileHashes.set(req.key, createHash("sha256"));
      return { id: req.id, type: "ok" };
    case "sha256-update":
      fileHash(req.key).update(new Uint8Array(req.data));
      return { id: req.id, type: "ok" };
    case "sha256-digest": {
      const digest = fileHash(req.key).digest("hex");
      fileHashes.delete(req.key);
      return { id: req.id, type: "sha256", digest };
    }
    case "hash-start": {
      const chunkRoots: Uint8Array[] = [];
      hashers.set(req.key, { hasher: new CommPHasher({ onChunkRoot: (_i, r) => chunkRoots.push(r) }), chunkRoots });
      return { id: req.id, type: "ok" };
    }
    case "hash-update": {
      hashers.get(req.key)?.hasher.update(new Uint8Array(req.data));
      return undefined;
    }
    case "hash-digest": {
      const entry = hashers.get(req.key);
      if (!entry) throw new InvalidStateError("no hasher with this key in the worker", { details: { key: req.key } });
      hashers.delete(req.key);
      const c = entry.hasher.digest();
      const roots = new Uint8Array(entry.chunkRoots.length * 32);
      entry.chunkRoots.forEach((r, i) => roots.set(r, i * 32));
      return {
        id: req.id,
        type: "digest",
        root: c.root.buffer.slice(c.root.byteOffset, c.root.byteOffset + 32) as ArrayBuffer,
        payloadSize: c.payloadSize,
        paddedSize: c.paddedSize,
        height: c.height,
        pieceCid: c.pieceCid,
        chunkRoots: roots.buffer,
      };
    }
  }
}

parentPort?.on("message", (req: WorkerRequest) => {
  try {
    const reply = handle(req);
    if (!reply) return;
    const transfer =
      reply.type === "pieces"
        ? reply.pieces
        : reply.type === "digest"
          ? [reply.chunkRoots]
          : reply.type === "chunk-root"
            ? [reply.data]
            : [];
    parentPort?.postMessage(reply, transfer);
  } catch (err) {
    const e = err as Error;
    if ("id" in req) parentPort?.postMessage({ id: req.id, type: "error", name: e.name, message: e.message });
  }
});
