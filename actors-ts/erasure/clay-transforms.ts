import { gfInv, gfMul, mulRegion, mulTable16 } from "./gf256";

/**
 * The pairwise transforms of Clay codes (the `clay-codes` crate's transforms.rs; the paper's
 * PRT/PFT) with γ = 2 over runs of 32-bit words: [U; U*] = [1 γ; γ 1]·[C; C*]. Multiplying by
 * γ = 2 and dividing by it are done on four bytes at once with shifts and masks (no table), so
 * coupling costs a fraction of the per-plane Reed–Solomon work; only (1 + γ²)⁻¹ takes a table.
 */

/** The coupling coefficient γ (γ ≠ 0, γ² ≠ 1), as in the `clay-codes` crate. */
export const CLAY_GAMMA = 2;
/** det [1 γ; γ 1] = 1 + γ² (5). */
const DET = 1 ^ gfMul(CLAY_GAMMA, CLAY_GAMMA);
const DET_INV = gfInv(DET);

/** 2·b for each of the four bytes of v (GF(2^8), poly 0x11d). */
function twice(v: number): number {
  return ((v & 0x7f7f7f7f) << 1) ^ (((v >>> 7) & 0x01010101) * 0x1d);
}

/** b / 2 for each of the four bytes of v. */
function half(v: number): number {
  return ((v >>> 1) & 0x7f7f7f7f) ^ ((v & 0x01010101) * 0x8e);
}

/** dst = x + γ·y (U from C and C*; also C from U and C*). */
export function plusGammaTimes(
  dst: Uint32Array,
  dOff: number,
  x: Uint32Array,
  xOff: number,
  y: Uint32Array,
  yOff: number,
  words: number,
): void {
  for (let i = 0; i < words; i++) dst[dOff + i] = x[xOff + i] ^ twice(y[yOff + i]);
}

/** dst = γ·y (U of a zero node from its pair's C, or from its pair's U*). */
export function gammaTimes(dst: Uint32Array, dOff: number, y: Uint32Array, yOff: number, words: number): void {
  for (let i = 0; i < words; i++) dst[dOff + i] = twice(y[yOff + i]);
}

/** dst = (1 + γ²)·c + γ·uStar: U from C and the pair's U* (U* = C* + γ·C). */
export function uncoupleFromPairU(
  dst: Uint32Array,
  dOff: number,
  c: Uint32Array,
  cOff: number,
  uStar: Uint32Array,
  sOff: number,
  words: number,
): void {
  for (let i = 0; i < words; i++) {
    const v = c[cOff + i];
    dst[dOff + i] = v ^ twice(twice(v)) ^ twice(uStar[sOff + i]);
  }
}

/** dst = (u + γ·uStar) / (1 + γ²): C from both U of a pair (the inverse transform). */
export function coupleFromBothU(
  dst: Uint32Array,
  dOff: number,
  u: Uint32Array,
  uOff: number,
  uStar: Uint32Array,
  sOff: number,
  words: number,
): void {
  const t = mulTable16(DET_INV);
  for (let i = 0; i < words; i++) {
    const v = u[uOff + i] ^ twice(uStar[sOff + i]);
    dst[dOff + i] = t[v & 0xffff] | (t[v >>> 16] << 16);
  }
}

/** dst = (u + c) / γ: the pair's C* from this node's U and C (U = C + γ·C*). c undefined: zero. */
export function pairFromUAndC(
  dst: Uint32Array,
  dOff: number,
  u: Uint32Array,
  uOff: number,
  c: Uint32Array | undefined,
  cOff: number,
  words: number,
): void {
  if (c === undefined) {
    for (let i = 0; i < words; i++) dst[dOff + i] = half(u[uOff + i]);
  } else {
    for (let i = 0; i < words; i++) dst[dOff + i] = half(u[uOff + i] ^ c[cOff + i]);
  }
}

/** dst = src (a red vertex: U = C), or zero when src is undefined (a virtual node). */
export function copyOrZero(
  dst: Uint32Array,
  dOff: number,
  src: Uint32Array | undefined,
  sOff: number,
  words: number,
): void {
  if (src === undefined) dst.fill(0, dOff, dOff + words);
  else mulRegion(dst, dOff, src, sOff, words, 1);
}
