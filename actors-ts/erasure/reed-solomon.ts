import { ReedSolomonErasure } from "@digitaldefiance/reed-solomon-erasure.wasm";
import { InvalidArgumentError, RepairMarketError } from "../core/errors";

/**
 * Reed–Solomon over GF(2^8) in the systematic layout of klauspost/reedsolomon (Go) and
 * reed-solomon-erasure (Rust, compiled to WASM here): data shards unchanged, parity from the
 * Vandermonde-derived matrix of Backblaze's construction, so shards are byte-identical to what
 * those libraries produce. Synchronous: call it from a worker thread for large data
 * (see {@link ErasurePool}).
 */

/** The WASM codec failed (a bug or a wrong shard layout). */
export class ErasureCodingError extends RepairMarketError {
  override name = "ErasureCodingError" as const;
}

let codec: ReedSolomonErasure | undefined;
function wasm(): ReedSolomonErasure {
  codec ??= ReedSolomonErasure.fromCurrentDirectorySync();
  return codec;
}

/** The module's raw exports (the class keeps them in a private field). */
interface RawExports {
  memory: { buffer: ArrayBuffer };
  reconstruct(
    shards: number,
    shardsLength: number,
    k: number,
    m: number,
    available: number,
    availableLength: number,
  ): number;
  __wbindgen_malloc(size: number): number;
  __wbindgen_free(pointer: number, size: number): void;
}

/**
 * Calls the module's `reconstruct` directly. The package's wrapper also frees the availability
 * buffer, which the Rust side has already freed, corrupting the allocator on the next call; here
 * only the shards buffer is freed (verified: no memory growth over 100,000 calls).
 */
function rawReconstruct(stripe: Uint8Array, k: number, m: number, present: boolean[]): number {
  const exports = (wasm() as unknown as { exports: RawExports }).exports;
  const shards = exports.__wbindgen_malloc(stripe.length);
  new Uint8Array(exports.memory.buffer).set(stripe, shards);
  const available = exports.__wbindgen_malloc(present.length);
  new Uint8Array(exports.memory.buffer).set(
    present.map((p) => (p ? 1 : 0)),
    available,
  );
  const result = exports.reconstruct(shards, stripe.length, k, m, available, present.length);
  if (result === ReedSolomonErasure.RESULT_OK) {
    stripe.set(new Uint8Array(exports.memory.buffer).subarray(shards, shards + stripe.length));
  }
  exports.__wbindgen_free(shards, stripe.length);
  return result;
}

/** Checks k and m: k ≥ 1, m ≥ 0, k + m ≤ 256 (GF(2^8) has 256 evaluation points). */
export function checkCodingParams(k: number, m: number): void {
  if (!Number.isInteger(k) || !Number.isInteger(m) || k < 1 || m < 0 || k + m > 256) {
    throw new InvalidArgumentError("erasure coding needs 1 ≤ k and k + m ≤ 256", { details: { k, m } });
  }
}

/**
 * Fills the m parity shares of one stripe in place.
 *
 * @param stripe (k + m) · shareSize bytes: k data shares then m parity shares, back to back.
 * @throws ErasureCodingError on a codec failure.
 */
export function encodeStripe(stripe: Uint8Array, k: number, m: number): void {
  if (m === 0) return;
  const result = wasm().encode(stripe, k, m);
  if (result !== ReedSolomonErasure.RESULT_OK) {
    throw new ErasureCodingError("Reed–Solomon encode failed", {
      details: { k, m, code: result, message: ReedSolomonErasure.getResultMessage(result) },
    });
  }
}

/**
 * Rebuilds every missing share of one stripe in place: data shares by the codec, then parity by
 * re-encoding (the codec only rebuilds data).
 *
 * @param stripe (k + m) · shareSize bytes; missing shares may hold anything.
 * @param present present[i] is true when share i holds good data; at least k must be true.
 * @throws InvalidArgumentError when fewer than k shares are present.
 * @throws ErasureCodingError on a codec failure.
 */
export function reconstructStripe(stripe: Uint8Array, k: number, m: number, present: boolean[]): void {
  const count = present.filter(Boolean).length;
  if (count < k) {
    throw new InvalidArgumentError("fewer than k shares to rebuild from", { details: { k, m, present: count } });
  }
  if (count === k + m) return;
  const dataMissing = present.slice(0, k).some((p) => !p);
  if (dataMissing) {
    const result = rawReconstruct(stripe, k, m, present);
    if (result !== ReedSolomonErasure.RESULT_OK) {
      throw new ErasureCodingError("Reed–Solomon reconstruct failed", {
        details: { k, m, code: result, message: ReedSolomonErasure.getResultMessage(result) },
      });
    }
  }
  if (present.slice(k).some((p) => !p)) encodeStripe(stripe, k, m);
}
