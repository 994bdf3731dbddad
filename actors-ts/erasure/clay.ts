import { InvalidArgumentError } from "../core/errors";
import {
  cachedPlan,
  coupleErased,
  fromWords,
  geometryOf,
  internalNode,
  orderPlanes,
  recoveryMatrix,
  solveErased,
  subChunkWords,
  toWords,
  uncoupleKnown,
  type ClayParams,
  type Geometry,
} from "./clay-core";

/**
 * Clay codes (coupled-layer MSR codes) over GF(2^8), pure TypeScript, on one stripe: n = k + m
 * shares of alpha sub-chunks each. Any k shares rebuild the rest (MDS, like Reed–Solomon), and one
 * lost share is rebuilt from d helpers sending beta = alpha/q sub-chunks each: d·beta/alpha shares
 * of traffic instead of k (4 + 2: 2.5 instead of 4; 10 + 4: 3.25 instead of 10).
 *
 * Source: Vajha et al., "Clay Codes: Moulding MDS Codes to Yield an MSR Code", FAST 2018; the
 * conventions (node and plane numbering, γ = 2, the Backblaze/klauspost systematic Reed–Solomon
 * code RS(k + nu, m) in every uncoupled plane, shortening by nu zero data nodes) follow the
 * Apache-2.0 Rust crate `clay-codes` (spool-labs/clay). See {@link ./clay-core} for the layout.
 *
 * A share is alpha sub-chunks of `subChunkSize` bytes, sub-chunk z at bytes [z·S, (z+1)·S). The
 * code is systematic: data shares are the data. Encoding is decoding with the parity erased
 * (the paper's layered decoder). Synchronous and single-threaded: run large files from workers.
 */

export { clayParams, MAX_CLAY_SUB_CHUNKS, type ClayParams } from "./clay-core";
export { CLAY_GAMMA } from "./clay-transforms";
export { clayRepair, clayRepairPlanes, clayRepairHelpers } from "./clay-repair";

/**
 * The paper's layered decoding over all planes: fills the C buffers of `erasedNodes` (internal
 * nodes, at most m) from the others. `c[i]` is undefined for virtual nodes.
 */
function decodeLayered(geometry: Geometry, c: (Uint32Array | undefined)[], erasedNodes: number[], words: number): void {
  const { k, m, d, alpha } = geometry.params;
  const plan = cachedPlan(`decode ${k},${m},${d} lost ${erasedNodes.join(",")}`, () => {
    const erased = Array.from({ length: geometry.nodes }, (_, i) => erasedNodes.includes(i));
    const known = Array.from({ length: geometry.nodes }, (_, i) => i)
      .filter((i) => !erased[i])
      .slice(0, geometry.dataSide);
    const planes = Array.from({ length: alpha }, (_, z) => z);
    return {
      geometry,
      cSlot: Int32Array.from(planes),
      order: orderPlanes(geometry, planes, erasedNodes),
      erased,
      erasedNodes,
      known,
      recovery: recoveryMatrix(geometry, known, erasedNodes),
    };
  });
  const used = new Set([...plan.known, ...erasedNodes]);
  const empty = new Uint32Array(0);
  const u = Array.from({ length: geometry.nodes }, (_, i) => (used.has(i) ? new Uint32Array(alpha * words) : empty));
  const pass = { ...plan, words, c, u };
  const bounds = plan.order.bounds;
  for (let level = 0; level + 1 < bounds.length; level++) {
    uncoupleKnown(pass, bounds[level], bounds[level + 1]);
    solveErased(pass, bounds[level], bounds[level + 1]);
    coupleErased(pass, bounds[level], bounds[level + 1]);
  }
}

function checkShareLength(share: Uint8Array, index: number, params: ClayParams, subChunkSize: number): void {
  if (!(share instanceof Uint8Array) || share.length !== params.alpha * subChunkSize) {
    throw new InvalidArgumentError("a Clay share must be alpha · subChunkSize bytes", {
      details: {
        index,
        length: share?.length,
        alpha: params.alpha,
        subChunkSize,
        expected: params.alpha * subChunkSize,
      },
    });
  }
}

/**
 * The m parity shares of one stripe.
 *
 * @param params From {@link clayParams}.
 * @param data k data shares, each alpha · subChunkSize bytes (not modified).
 * @param subChunkSize Bytes per sub-chunk (a stripe holds k · alpha · subChunkSize data bytes).
 * @returns m new parity shares of alpha · subChunkSize bytes (shares k … n−1).
 * @throws InvalidArgumentError for params that are not {@link clayParams}', a share count other
 *   than k, a share of the wrong length, or a sub-chunk size that is not a positive integer.
 * @example
 * const params = clayParams(4, 2); // alpha 8
 * const parity = clayEncode(params, data, 127); // data: 4 × 1016 bytes → 2 × 1016 bytes
 */
export function clayEncode(params: ClayParams, data: readonly Uint8Array[], subChunkSize: number): Uint8Array[] {
  const geometry = geometryOf(params);
  const { k, m, alpha } = geometry.params;
  const words = subChunkWords(subChunkSize);
  if (data.length !== k) {
    throw new InvalidArgumentError("Clay encoding needs exactly k data shares", { details: { k, given: data.length } });
  }
  data.forEach((share, i) => checkShareLength(share, i, geometry.params, subChunkSize));
  const c: (Uint32Array | undefined)[] = new Array<Uint32Array | undefined>(geometry.nodes);
  data.forEach((share, i) => (c[i] = toWords(share, alpha, subChunkSize, words)));
  const parity = Array.from({ length: m }, () => new Uint32Array(alpha * words));
  const parityNodes = parity.map((buffer, i) => {
    const node = internalNode(geometry.params, k + i);
    c[node] = buffer;
    return node;
  });
  decodeLayered(geometry, c, parityNodes, words);
  return parity.map((buffer) => fromWords(buffer, alpha, subChunkSize, words));
}

/**
 * Rebuilds the missing shares of one stripe (any up to m of them).
 *
 * @param params From {@link clayParams}.
 * @param shares n entries, share i or undefined when lost; at least k present, each
 *   alpha · subChunkSize bytes (not modified).
 * @param subChunkSize Bytes per sub-chunk.
 * @returns All n shares: the present ones as given, the missing ones rebuilt (new arrays).
 * @throws InvalidArgumentError for an entry count other than n, more than m missing, a share of
 *   the wrong length, or a bad sub-chunk size.
 * @example
 * const all = clayDecode(params, [undefined, s1, s2, s3, undefined, s5], 127);
 */
export function clayDecode(
  params: ClayParams,
  shares: readonly (Uint8Array | undefined)[],
  subChunkSize: number,
): Uint8Array[] {
  const geometry = geometryOf(params);
  const { n, m, alpha } = geometry.params;
  const words = subChunkWords(subChunkSize);
  if (shares.length !== n) {
    throw new InvalidArgumentError("Clay decoding takes n share slots (undefined for a lost share)", {
      details: { n, given: shares.length },
    });
  }
  const missing = shares.flatMap((share, i) => (share === undefined ? [i] : []));
  if (missing.length > m) {
    throw new InvalidArgumentError("more than m shares of a Clay stripe are lost", {
      details: { m, missing: missing.length, lost: missing.join(",") },
    });
  }
  shares.forEach((share, i) => share !== undefined && checkShareLength(share, i, geometry.params, subChunkSize));
  if (missing.length === 0) return shares.map((share) => share ?? new Uint8Array(0));
  const buffers = shares.map((share) =>
    share === undefined ? new Uint32Array(alpha * words) : toWords(share, alpha, subChunkSize, words),
  );
  const c: (Uint32Array | undefined)[] = new Array<Uint32Array | undefined>(geometry.nodes);
  buffers.forEach((buffer, i) => (c[internalNode(geometry.params, i)] = buffer));
  decodeLayered(
    geometry,
    c,
    missing.map((i) => internalNode(geometry.params, i)),
    words,
  );
  return shares.map((share, i) => share ?? fromWords(buffers[i], alpha, subChunkSize, words));
}
