import { InvalidArgumentError } from "../core/errors";
import {
  cachedPlan,
  digit,
  fromWords,
  geometryOf,
  internalNode,
  isVirtual,
  orderPlanes,
  recoveryMatrix,
  solveErased,
  subChunkWords,
  toWords,
  uncoupleKnown,
  type ClayParams,
  type Geometry,
  type LayeredPass,
  type LayeredPlan,
} from "./clay-core";
import { copyOrZero, pairFromUAndC } from "./clay-transforms";

/**
 * Bandwidth-optimal repair of one lost Clay share (Vajha et al., FAST 2018, section 3.3; the
 * `clay-codes` crate's `minimum_to_repair` / `repair`): each of d helpers sends the beta
 * sub-chunks of the repair planes, the planes z whose digit z_y equals x for the lost node (x, y).
 * In those planes the lost node is unpaired; uncoupling the helpers' sub-chunks and solving each
 * plane's MDS code for the lost node's y-section (and the n − 1 − d nodes that are not helpers)
 * gives the lost node's own sub-chunk in the plane and, through each y-section mate's pair, one
 * sub-chunk of another plane: alpha in all.
 */

function checkLostIndex(params: ClayParams, lostIndex: number): void {
  if (!Number.isInteger(lostIndex) || lostIndex < 0 || lostIndex >= params.n) {
    throw new InvalidArgumentError("lost share index out of range", { details: { lostIndex, n: params.n } });
  }
}

/** The share indices in the lost share's y-section (its q − 1 mates that are real shares). */
function sectionMates(params: ClayParams, lostIndex: number): number[] {
  const lost = internalNode(params, lostIndex);
  const start = Math.floor(lost / params.q) * params.q;
  return Array.from({ length: params.q }, (_, x) => start + x)
    .filter((node) => node !== lost && !isVirtual(params, node))
    .map((node) => (node < params.k ? node : node - params.nu));
}

/**
 * The sub-chunks every helper sends to repair share `lostIndex`: the beta planes z (ascending)
 * whose digit for the lost share's y-section is its column.
 *
 * @param params From {@link clayParams}.
 * @param lostIndex Share index, 0 … n−1 (data 0 … k−1, parity k … n−1).
 * @returns beta sub-chunk indices in 0 … alpha−1; a helper's message is these sub-chunks of its
 *   share, concatenated in this order.
 * @throws InvalidArgumentError for a bad index or params.
 * @example clayRepairPlanes(clayParams(4, 2), 0) // [0, 1, 2, 3]
 */
export function clayRepairPlanes(params: ClayParams, lostIndex: number): number[] {
  const geometry = geometryOf(params);
  checkLostIndex(geometry.params, lostIndex);
  const { q, alpha } = geometry.params;
  const lost = internalNode(geometry.params, lostIndex);
  const y = Math.floor(lost / q);
  return Array.from({ length: alpha }, (_, z) => z).filter((z) => digit(geometry, z, y) === lost % q);
}

/**
 * d helpers for repairing share `lostIndex`: its y-section mates (which must help), then the
 * lowest other available indices.
 *
 * @param available Share indices that can help (default: every other share).
 * @throws InvalidArgumentError when a y-section mate is unavailable or fewer than d are available.
 */
export function clayRepairHelpers(params: ClayParams, lostIndex: number, available?: readonly number[]): number[] {
  const geometry = geometryOf(params);
  checkLostIndex(geometry.params, lostIndex);
  const { n, d } = geometry.params;
  const pool = (available ?? Array.from({ length: n }, (_, i) => i)).filter((i) => i !== lostIndex);
  const mates = sectionMates(geometry.params, lostIndex);
  const missingMate = mates.find((i) => !pool.includes(i));
  if (missingMate !== undefined) {
    throw new InvalidArgumentError("a Clay repair needs every share of the lost share's y-section", {
      details: { lostIndex, missingMate },
    });
  }
  const others = [...new Set(pool)].filter((i) => !mates.includes(i)).sort((a, b) => a - b);
  const helpers = [...mates, ...others].slice(0, d);
  if (helpers.length < d) {
    throw new InvalidArgumentError("a Clay repair needs d helpers", {
      details: { lostIndex, d, available: helpers.length },
    });
  }
  return helpers;
}

function checkHelpers(
  params: ClayParams,
  lostIndex: number,
  helpers: ReadonlyMap<number, Uint8Array>,
  subChunkSize: number,
): void {
  const { n, d, beta } = params;
  if (helpers.size !== d) {
    throw new InvalidArgumentError("a Clay repair takes exactly d helpers", {
      details: { lostIndex, d, given: helpers.size },
    });
  }
  for (const [index, bytes] of helpers) {
    if (!Number.isInteger(index) || index < 0 || index >= n || index === lostIndex) {
      throw new InvalidArgumentError("a Clay repair helper must be another share of the stripe", {
        details: { lostIndex, helper: index, n },
      });
    }
    if (!(bytes instanceof Uint8Array) || bytes.length !== beta * subChunkSize) {
      throw new InvalidArgumentError("a Clay repair helper sends beta · subChunkSize bytes", {
        details: { helper: index, length: bytes?.length, beta, subChunkSize, expected: beta * subChunkSize },
      });
    }
  }
  const missingMate = sectionMates(params, lostIndex).find((i) => !helpers.has(i));
  if (missingMate !== undefined) {
    throw new InvalidArgumentError("a Clay repair needs every share of the lost share's y-section", {
      details: { lostIndex, missingMate },
    });
  }
}

/** The plan over the repair planes: helpers' sub-chunks known, the y-section and non-helpers erased. */
function repairPlan(
  geometry: Geometry,
  lost: number,
  helperNodes: readonly number[],
  planes: readonly number[],
): LayeredPlan {
  const params = geometry.params;
  const { q, alpha } = params;
  const section = Math.floor(lost / q);
  const nodes = Array.from({ length: geometry.nodes }, (_, i) => i);
  const aloof = nodes.filter((i) => i !== lost && !helperNodes.includes(i) && !isVirtual(params, i));
  const erasedNodes = nodes.filter((i) => Math.floor(i / q) === section || aloof.includes(i));
  const erased = nodes.map((i) => erasedNodes.includes(i));
  const known = nodes.filter((i) => !erased[i]);
  const cSlot = new Int32Array(alpha).fill(-1);
  planes.forEach((z, i) => (cSlot[z] = i));
  return {
    geometry,
    cSlot,
    order: orderPlanes(geometry, planes, aloof),
    erased,
    erasedNodes,
    known,
    recovery: recoveryMatrix(geometry, known, erasedNodes),
  };
}

/**
 * The lost share's sub-chunks in the planes order.planes[from … to) and, through each y-section
 * mate (x, y) in each such plane z, in plane z + (x − x_lost)·q^(t−1−y):
 * C(lost, z') = γ⁻¹·(U(mate, z) + C(mate, z)).
 */
function coupleLost(pass: LayeredPass, lost: number, out: Uint32Array, from: number, to: number): void {
  const { geometry, words: w, c, cSlot, u } = pass;
  const q = geometry.params.q;
  const section = Math.floor(lost / q);
  const weight = geometry.weights[section];
  for (let i = from; i < to; i++) {
    const z = pass.order.planes[i];
    copyOrZero(out, z * w, u[lost], i * w, w);
    for (let x = 0; x < q; x++) {
      const mate = section * q + x;
      if (mate === lost) continue;
      const target = (z + (x - (lost % q)) * weight) * w;
      pairFromUAndC(out, target, u[mate], i * w, c[mate], cSlot[z] * w, w);
    }
  }
}

/**
 * Rebuilds one lost share from d helpers' repair sub-chunks.
 *
 * @param params From {@link clayParams}.
 * @param lostIndex Share index to rebuild, 0 … n−1.
 * @param helpers Exactly d entries, share index → the beta sub-chunks {@link clayRepairPlanes}
 *   names, concatenated in that order (beta · subChunkSize bytes). They must include every share
 *   of the lost share's y-section ({@link clayRepairHelpers} picks a valid set); with d = n − 1
 *   that is every other share.
 * @param subChunkSize Bytes per sub-chunk.
 * @returns The lost share, alpha · subChunkSize bytes, byte-identical to the original.
 * @throws InvalidArgumentError for a bad index, a helper count other than d, the lost share or an
 *   out-of-range index among helpers, a missing y-section mate, or a helper message of the wrong length.
 * @example
 * const planes = clayRepairPlanes(params, 0);
 * const helpers = new Map([1, 2, 3, 4, 5].map((i) => [i, pick(shares[i], planes, 127)]));
 * const share0 = clayRepair(params, 0, helpers, 127);
 */
export function clayRepair(
  params: ClayParams,
  lostIndex: number,
  helpers: ReadonlyMap<number, Uint8Array>,
  subChunkSize: number,
): Uint8Array {
  const geometry = geometryOf(params);
  const { alpha, beta } = geometry.params;
  checkLostIndex(geometry.params, lostIndex);
  const words = subChunkWords(subChunkSize);
  checkHelpers(geometry.params, lostIndex, helpers, subChunkSize);
  const lost = internalNode(geometry.params, lostIndex);
  const c = new Array<Uint32Array | undefined>(geometry.nodes);
  for (const [index, bytes] of helpers)
    c[internalNode(geometry.params, index)] = toWords(bytes, beta, subChunkSize, words);
  const helperNodes = [...helpers.keys()].map((i) => internalNode(geometry.params, i)).sort((a, b) => a - b);
  const { k, m, d } = geometry.params;
  const plan = cachedPlan(`repair ${k},${m},${d} lost ${lost} from ${helperNodes.join(",")}`, () =>
    repairPlan(geometry, lost, helperNodes, clayRepairPlanes(geometry.params, lostIndex)),
  );
  const u = Array.from({ length: geometry.nodes }, () => new Uint32Array(beta * words));
  const pass = { ...plan, words, c, u };
  const out = new Uint32Array(alpha * words);
  const bounds = pass.order.bounds;
  for (let level = 0; level + 1 < bounds.length; level++) {
    uncoupleKnown(pass, bounds[level], bounds[level + 1]);
    solveErased(pass, bounds[level], bounds[level + 1]);
    coupleLost(pass, lost, out, bounds[level], bounds[level + 1]);
  }
  return fromWords(out, alpha, subChunkSize, words);
}
