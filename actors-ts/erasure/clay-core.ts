import { InvalidArgumentError } from "../core/errors";
import { dotRegion, invertMatrix, multiplyMatrices, rsEncodingMatrix } from "./gf256";
import { copyOrZero, coupleFromBothU, gammaTimes, plusGammaTimes, uncoupleFromPairU } from "./clay-transforms";

/**
 * The machinery shared by Clay encoding, decoding and repair ({@link ./clay}, {@link ./clay-repair}):
 * parameters, the geometry of nodes and planes, and the layered "uncouple, solve, couple" steps
 * of Vajha et al., "Clay Codes: Moulding MDS Codes to Yield an MSR Code" (FAST 2018), in the
 * conventions of the Apache-2.0 Rust crate `clay-codes` (spool-labs/clay), so that both should
 * produce the same bytes (the crate publishes no test vectors; test/actors-ts/erasure/clay.test.ts
 * checks shares against this definition instead):
 *
 * - Internal node i = y·q + x sits at column x of y-section y. Data shares are nodes 0…k−1, the
 *   nu virtual (always-zero) nodes are k…k+nu−1, parity shares are k+nu…q·t−1.
 * - Plane z has t base-q digits, most significant first: z_y = ⌊z / q^(t−1−y)⌋ mod q.
 * - In plane z, node (x, y) is unpaired ("red") when z_y = x; otherwise its companion is node
 *   (z_y, y) in plane z' = z + (x − z_y)·q^(t−1−y), and the coupled sub-chunks C relate to the
 *   uncoupled U by U(x,y,z) = C(x,y,z) + γ·C(z_y,y,z') with γ = 2 (the same 2 × 2 matrix
 *   [1 γ; γ 1] both ways, so the orientation of a pair does not matter; {@link ./clay-transforms}).
 * - In every plane the q·t uncoupled sub-chunks are a codeword of the systematic Reed–Solomon
 *   code RS(k + nu, m) of Backblaze/klauspost over GF(2^8) (poly 0x11d), as in {@link ./reed-solomon}.
 *
 * Buffers here are runs of 32-bit words: a sub-chunk of S bytes takes W = ⌈S/4⌉ words (padding
 * bytes are zero and stay zero, every step being linear).
 */

/** The parameters of a Clay code (all counts; sizes are per stripe in sub-chunks). */
export interface ClayParams {
  /** Data shares. */
  readonly k: number;
  /** Parity shares (erasures tolerated). */
  readonly m: number;
  /** Shares, k + m. */
  readonly n: number;
  /** Helpers a single-share repair reads from, k ≤ d ≤ n − 1. */
  readonly d: number;
  /** Coupling factor (columns of a y-section), d − k + 1. */
  readonly q: number;
  /** y-sections, (n + nu) / q. */
  readonly t: number;
  /** Virtual zero data nodes added so that q divides n + nu. */
  readonly nu: number;
  /** Sub-chunks per share (planes), q^t. */
  readonly alpha: number;
  /** Sub-chunks each helper sends for a repair, alpha / q. */
  readonly beta: number;
}

/** Largest sub-packetization accepted: a share is alpha sub-chunks, and buffers scale with it. */
export const MAX_CLAY_SUB_CHUNKS = 65536;

/**
 * The parameters of the Clay code with k data shares, m parity shares and d helpers.
 *
 * @param k Data shares, ≥ 1.
 * @param m Parity shares, ≥ 1.
 * @param d Helpers per repair, k ≤ d ≤ k + m − 1 (default k + m − 1, the least repair traffic).
 *   d = k gives q = 1, alpha = 1: plain Reed–Solomon.
 * @returns q = d − k + 1, nu (virtual nodes so q | n + nu), t = (n + nu)/q, alpha = q^t, beta = alpha/q.
 * @throws InvalidArgumentError for non-integers, d out of range, n + nu > 256 (GF(2^8) has 256
 *   evaluation points) or alpha > {@link MAX_CLAY_SUB_CHUNKS}.
 * @example clayParams(10, 4) // { q: 4, nu: 2, t: 4, alpha: 256, beta: 64, d: 13, … }
 */
export function clayParams(k: number, m: number, d: number = k + m - 1): ClayParams {
  const n = k + m;
  if (![k, m, d].every(Number.isInteger) || k < 1 || m < 1 || d < k || d > n - 1) {
    throw new InvalidArgumentError("a Clay code needs integers k ≥ 1, m ≥ 1 and k ≤ d ≤ k + m − 1", {
      details: { k, m, d },
    });
  }
  const q = d - k + 1;
  const nu = (q - (n % q)) % q;
  const t = (n + nu) / q;
  if (n + nu > 256) {
    throw new InvalidArgumentError("a Clay code over GF(2^8) needs k + m + nu ≤ 256", { details: { k, m, d, nu } });
  }
  const alpha = q ** t;
  if (alpha > MAX_CLAY_SUB_CHUNKS) {
    throw new InvalidArgumentError("Clay sub-packetization q^t is too large", {
      details: { k, m, d, q, t, alpha, max: MAX_CLAY_SUB_CHUNKS },
    });
  }
  return { k, m, n, d, q, t, nu, alpha, beta: alpha / q };
}

/** Node and plane arithmetic of one code, built once per (k, m, d). */
export interface Geometry {
  readonly params: ClayParams;
  /** Internal nodes, q·t = n + nu. */
  readonly nodes: number;
  /** Message symbols of the per-plane code, k + nu. */
  readonly dataSide: number;
  /** q^(t−1−y) for each y-section y. */
  readonly weights: readonly number[];
  /** The per-plane code's (q·t) × (k + nu) encoding matrix. */
  readonly code: readonly (readonly number[])[];
}

const GEOMETRIES = new Map<string, Geometry>();

/**
 * The geometry of `params` (cached per (k, m, d)).
 *
 * @throws InvalidArgumentError when `params` is not what {@link clayParams} gives for its k, m, d.
 */
export function geometryOf(params: ClayParams): Geometry {
  const key = `${params.k},${params.m},${params.d}`;
  let geometry = GEOMETRIES.get(key);
  if (geometry === undefined) {
    const canonical = clayParams(params.k, params.m, params.d);
    const { k, m, q, t, nu } = canonical;
    geometry = {
      params: canonical,
      nodes: q * t,
      dataSide: k + nu,
      weights: Array.from({ length: t }, (_, y) => q ** (t - 1 - y)),
      code: rsEncodingMatrix(k + nu, m),
    };
    GEOMETRIES.set(key, geometry);
  }
  const canonical = geometry.params;
  for (const field of ["n", "q", "t", "nu", "alpha", "beta"] as const) {
    if (params[field] !== canonical[field]) {
      throw new InvalidArgumentError("Clay parameters do not match clayParams(k, m, d)", {
        details: { k: params.k, m: params.m, d: params.d, field, given: params[field], expected: canonical[field] },
      });
    }
  }
  return geometry;
}

/**
 * Checks a sub-chunk size and returns the words a sub-chunk takes in the internal buffers.
 *
 * @throws InvalidArgumentError unless it is a positive safe integer.
 */
export function subChunkWords(subChunkSize: number): number {
  if (!Number.isSafeInteger(subChunkSize) || subChunkSize < 1) {
    throw new InvalidArgumentError("sub-chunk size must be a positive integer (bytes)", { details: { subChunkSize } });
  }
  return Math.ceil(subChunkSize / 4);
}

/**
 * A share (or a helper's sub-chunks) of `subChunks` sub-chunks of `size` bytes as words, W per
 * sub-chunk: a view when sub-chunks are whole words and the bytes are word-aligned, else a copy.
 */
export function toWords(bytes: Uint8Array, subChunks: number, size: number, words: number): Uint32Array {
  if (size === words * 4 && bytes.byteOffset % 4 === 0) {
    return new Uint32Array(bytes.buffer, bytes.byteOffset, subChunks * words);
  }
  const out = new Uint32Array(subChunks * words);
  const view = new Uint8Array(out.buffer);
  for (let z = 0; z < subChunks; z++) view.set(bytes.subarray(z * size, (z + 1) * size), z * words * 4);
  return out;
}

/** The bytes of `subChunks` sub-chunks of `size` bytes held as words (a view when no padding). */
export function fromWords(buffer: Uint32Array, subChunks: number, size: number, words: number): Uint8Array {
  const view = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  if (size === words * 4) return view.subarray(0, subChunks * size);
  const out = new Uint8Array(subChunks * size);
  for (let z = 0; z < subChunks; z++) out.set(view.subarray(z * words * 4, z * words * 4 + size), z * size);
  return out;
}

/** Internal node of share `index` (shares are data 0…k−1 then parity k…n−1). */
export function internalNode(params: ClayParams, index: number): number {
  return index < params.k ? index : index + params.nu;
}

/** Whether internal node `node` is one of the nu virtual zero nodes. */
export function isVirtual(params: ClayParams, node: number): boolean {
  return node >= params.k && node < params.k + params.nu;
}

/** Digit y of plane z (which column of y-section y is unpaired in z). */
export function digit(geometry: Geometry, z: number, y: number): number {
  return Math.floor(z / geometry.weights[y]) % geometry.params.q;
}

/**
 * Planes in the order the layered decoder visits them: by the count of `counted` nodes that are
 * unpaired in the plane (the paper's intersection score), then by index; plus where each level
 * (planes of one score) starts and ends in that order.
 */
export interface PlaneOrder {
  readonly planes: readonly number[];
  /** Level i is planes[bounds[i] … bounds[i+1]). */
  readonly bounds: readonly number[];
  /** slot[z]: position of plane z in `planes` (−1 when z is not among them). */
  readonly slot: Int32Array;
}

/** Orders `candidates` by intersection score with `counted` (internal nodes). */
export function orderPlanes(geometry: Geometry, candidates: readonly number[], counted: readonly number[]): PlaneOrder {
  const q = geometry.params.q;
  const scored = candidates.map((z) => ({
    z,
    score: counted.filter((node) => digit(geometry, z, Math.floor(node / q)) === node % q).length,
  }));
  scored.sort((a, b) => a.score - b.score || a.z - b.z);
  const bounds = [0];
  for (let i = 1; i < scored.length; i++) if (scored[i].score !== scored[i - 1].score) bounds.push(i);
  bounds.push(scored.length);
  const slot = new Int32Array(geometry.params.alpha).fill(-1);
  scored.forEach(({ z }, i) => (slot[z] = i));
  return { planes: scored.map((s) => s.z), bounds, slot };
}

/**
 * What a layered pass does, independent of the bytes: which nodes are solved for, from which,
 * in which plane order. C sub-chunk z of a node is words [cSlot[z]·W, +W) of its C buffer; its U
 * sub-chunk z is words [order.slot[z]·W, +W) of its U buffer.
 */
export interface LayeredPlan {
  readonly geometry: Geometry;
  readonly cSlot: Int32Array;
  readonly order: PlaneOrder;
  /** erased[i]: U of node i comes from the per-plane code (its C is unknown or its pair is). */
  readonly erased: readonly boolean[];
  /** Internal nodes solved for in every plane, in order. */
  readonly erasedNodes: readonly number[];
  /** k + nu non-erased internal nodes whose U feeds the per-plane solve. */
  readonly known: readonly number[];
  /** recovery[e][j]: coefficient of known[j]'s U in erasedNodes[e]'s U. */
  readonly recovery: readonly (readonly number[])[];
}

/** A plan with its buffers: c[i] undefined for a virtual (all-zero) node. */
export interface LayeredPass extends LayeredPlan {
  /** Words per sub-chunk. */
  readonly words: number;
  readonly c: readonly (Uint32Array | undefined)[];
  readonly u: readonly Uint32Array[];
}

const PLANS = new Map<string, LayeredPlan>();
const MAX_CACHED_PLANS = 256;

/** The plan cached under `key` (a string naming the code and the erasure pattern), built once. */
export function cachedPlan(key: string, build: () => LayeredPlan): LayeredPlan {
  let plan = PLANS.get(key);
  if (plan === undefined) {
    plan = build();
    if (PLANS.size >= MAX_CACHED_PLANS) PLANS.clear();
    PLANS.set(key, plan);
  }
  return plan;
}

/** The rows of the per-plane code for `erasedNodes`, expressed in the U of `known` nodes. */
export function recoveryMatrix(
  geometry: Geometry,
  known: readonly number[],
  erasedNodes: readonly number[],
): number[][] {
  const inverse = invertMatrix(known.map((node) => geometry.code[node]));
  return multiplyMatrices(
    erasedNodes.map((node) => geometry.code[node]),
    inverse,
  );
}

/** U of every known node in the planes order.planes[from … to) (their companions' U already known). */
export function uncoupleKnown(pass: LayeredPass, from: number, to: number): void {
  const { geometry, words: w, c, cSlot, u, erased } = pass;
  const q = geometry.params.q;
  for (const node of pass.known) {
    const x = node % q;
    const y = Math.floor(node / q);
    const own = c[node];
    const dst = u[node];
    for (let i = from; i < to; i++) {
      const z = pass.order.planes[i];
      const dOff = i * w;
      const zy = digit(geometry, z, y);
      const cOff = cSlot[z] * w;
      if (zy === x) {
        copyOrZero(dst, dOff, own, cOff, w);
        continue;
      }
      const pair = y * q + zy;
      const z2 = z + (x - zy) * geometry.weights[y];
      if (erased[pair]) {
        const uOff = pass.order.slot[z2] * w;
        if (own === undefined) gammaTimes(dst, dOff, u[pair], uOff, w);
        else uncoupleFromPairU(dst, dOff, own, cOff, u[pair], uOff, w);
        continue;
      }
      const other = c[pair];
      const pOff = cSlot[z2] * w;
      if (other === undefined) copyOrZero(dst, dOff, own, cOff, w);
      else if (own === undefined) gammaTimes(dst, dOff, other, pOff, w);
      else plusGammaTimes(dst, dOff, own, cOff, other, pOff, w);
    }
  }
}

/** U of every erased node in the planes order.planes[from … to), from the known nodes' U. */
export function solveErased(pass: LayeredPass, from: number, to: number): void {
  const { words: w, u, known, recovery } = pass;
  const start = from * w;
  const length = (to - from) * w;
  const sources = known.map((node) => u[node]);
  pass.erasedNodes.forEach((node, e) => dotRegion(u[node], sources, recovery[e], start, length));
}

/**
 * C of every erased node with a C buffer, in the planes order.planes[from … to), once their U and
 * the U of erased companions in the same planes are known.
 */
export function coupleErased(pass: LayeredPass, from: number, to: number): void {
  const { geometry, words: w, c, cSlot, u, erased } = pass;
  const q = geometry.params.q;
  for (const node of pass.erasedNodes) {
    const dst = c[node];
    if (dst === undefined) continue;
    const x = node % q;
    const y = Math.floor(node / q);
    for (let i = from; i < to; i++) {
      const z = pass.order.planes[i];
      const dOff = cSlot[z] * w;
      const uOff = i * w;
      const zy = digit(geometry, z, y);
      if (zy === x) {
        copyOrZero(dst, dOff, u[node], uOff, w);
        continue;
      }
      const pair = y * q + zy;
      const z2 = z + (x - zy) * geometry.weights[y];
      const other = c[pair];
      if (erased[pair]) coupleFromBothU(dst, dOff, u[node], uOff, u[pair], pass.order.slot[z2] * w, w);
      else if (other === undefined) copyOrZero(dst, dOff, u[node], uOff, w);
      else plusGammaTimes(dst, dOff, u[node], uOff, other, cSlot[z2] * w, w);
    }
  }
}
