import { InvalidArgumentError } from "../core/errors";

/**
 * GF(2^8) arithmetic for the pure-TypeScript codes (Clay, {@link ./clay}): the field of
 * klauspost/reedsolomon, Backblaze's JavaReedSolomon and reed-solomon-erasure, generating
 * polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11d) with generator 2, so a Reed–Solomon matrix built
 * here ({@link rsEncodingMatrix}) is byte-for-byte the one of {@link ./reed-solomon}.
 *
 * Bulk work is done on regions: runs of 32-bit words (four field elements each), multiplied
 * through a 65,536-entry table per coefficient that maps two bytes at once. A table is built on
 * first use and kept (128 KiB each, at most 256 of them: 32 MiB if every coefficient is used).
 */

const EXP = new Uint8Array(510);
const LOG = new Uint8Array(256);
{
  let x = 1;
  for (let i = 0; i < 255; i++) {
    EXP[i] = x;
    LOG[x] = i;
    x <<= 1;
    if (x & 0x100) x ^= 0x11d;
  }
  for (let i = 255; i < 510; i++) EXP[i] = EXP[i - 255];
}

/** a · b in GF(2^8). */
export function gfMul(a: number, b: number): number {
  return a === 0 || b === 0 ? 0 : EXP[LOG[a] + LOG[b]];
}

/**
 * 1 / a in GF(2^8).
 *
 * @throws InvalidArgumentError when a is 0.
 */
export function gfInv(a: number): number {
  if (a === 0) throw new InvalidArgumentError("0 has no inverse in GF(2^8)");
  return EXP[255 - LOG[a]];
}

/** a^e in GF(2^8), with 0^0 = 1 (the Vandermonde convention of klauspost/reedsolomon). */
export function gfPow(a: number, e: number): number {
  if (e === 0) return 1;
  if (a === 0) return 0;
  return EXP[(LOG[a] * e) % 255];
}

const TABLES: (Uint16Array | undefined)[] = new Array<Uint16Array | undefined>(256);

/** The table mapping two packed bytes (b0 | b1 << 8) to (c·b0 | c·b1 << 8), built on first use. */
export function mulTable16(c: number): Uint16Array {
  let table = TABLES[c];
  if (table === undefined) {
    const row = new Uint8Array(256);
    for (let b = 0; b < 256; b++) row[b] = gfMul(c, b);
    table = new Uint16Array(65536);
    for (let hi = 0; hi < 256; hi++) {
      const high = row[hi] << 8;
      for (let lo = 0; lo < 256; lo++) table[(hi << 8) | lo] = high | row[lo];
    }
    TABLES[c] = table;
  }
  return table;
}

/** dst[dOff, dOff + words) = c · src[sOff, sOff + words), word-wise (offsets and lengths in words). */
export function mulRegion(
  dst: Uint32Array,
  dOff: number,
  src: Uint32Array,
  sOff: number,
  words: number,
  c: number,
): void {
  if (c === 0) {
    dst.fill(0, dOff, dOff + words);
    return;
  }
  if (c === 1) {
    dst.set(src.subarray(sOff, sOff + words), dOff);
    return;
  }
  const t = mulTable16(c);
  for (let i = 0; i < words; i++) {
    const v = src[sOff + i];
    dst[dOff + i] = t[v & 0xffff] | (t[v >>> 16] << 16);
  }
}

/** dst[dOff, dOff + words) ^= c · src[sOff, sOff + words), word-wise. */
export function mulAddRegion(
  dst: Uint32Array,
  dOff: number,
  src: Uint32Array,
  sOff: number,
  words: number,
  c: number,
): void {
  if (c === 0) return;
  if (c === 1) {
    for (let i = 0; i < words; i++) dst[dOff + i] ^= src[sOff + i];
    return;
  }
  const t = mulTable16(c);
  for (let i = 0; i < words; i++) {
    const v = src[sOff + i];
    dst[dOff + i] ^= t[v & 0xffff] | (t[v >>> 16] << 16);
  }
}

/**
 * dst = a · x + b · y over one run of words: the 2 × 2 pairwise transforms of Clay codes in one
 * pass (either product may be 0 or 1).
 */
export function combineRegion(
  dst: Uint32Array,
  dOff: number,
  x: Uint32Array,
  xOff: number,
  a: number,
  y: Uint32Array,
  yOff: number,
  b: number,
  words: number,
): void {
  if (b === 0 || a === 0) {
    if (a === 0) mulRegion(dst, dOff, y, yOff, words, b);
    else mulRegion(dst, dOff, x, xOff, words, a);
    return;
  }
  if (a === 1 || b === 1) {
    combineWithOne(
      dst,
      dOff,
      a === 1 ? x : y,
      a === 1 ? xOff : yOff,
      a === 1 ? y : x,
      a === 1 ? yOff : xOff,
      a === 1 ? b : a,
      words,
    );
    return;
  }
  const ta = mulTable16(a);
  const tb = mulTable16(b);
  for (let i = 0; i < words; i++) {
    const u = x[xOff + i];
    const v = y[yOff + i];
    dst[dOff + i] = (ta[u & 0xffff] | (ta[u >>> 16] << 16)) ^ (tb[v & 0xffff] | (tb[v >>> 16] << 16));
  }
}

/** dst = x + c · y over one run of words. */
function combineWithOne(
  dst: Uint32Array,
  dOff: number,
  x: Uint32Array,
  xOff: number,
  y: Uint32Array,
  yOff: number,
  c: number,
  words: number,
): void {
  if (c === 1) {
    for (let i = 0; i < words; i++) dst[dOff + i] = x[xOff + i] ^ y[yOff + i];
    return;
  }
  const t = mulTable16(c);
  for (let i = 0; i < words; i++) {
    const v = y[yOff + i];
    dst[dOff + i] = x[xOff + i] ^ t[v & 0xffff] ^ (t[v >>> 16] << 16);
  }
}

/**
 * dst[start, start + words) = Σ coefficients[j] · sources[j][start, start + words): one output of
 * a matrix product, taking the sources four at a time so dst is read and written once per four.
 */
export function dotRegion(
  dst: Uint32Array,
  sources: readonly Uint32Array[],
  coefficients: readonly number[],
  start: number,
  words: number,
): void {
  const terms = sources.map((source, j) => ({ source, c: coefficients[j] })).filter(({ c }) => c !== 0);
  if (terms.length === 0) {
    dst.fill(0, start, start + words);
    return;
  }
  // The first one to three terms set dst, the rest are added four at a time.
  let j = terms.length % 4;
  if (j === 0) dst.fill(0, start, start + words);
  else if (j === 1) mulRegion(dst, start, terms[0].source, start, words, terms[0].c);
  else combineRegion(dst, start, terms[0].source, start, terms[0].c, terms[1].source, start, terms[1].c, words);
  if (j === 3) mulAddRegion(dst, start, terms[2].source, start, words, terms[2].c);
  for (; j < terms.length; j += 4) {
    const [a, b, c, d] = terms.slice(j, j + 4);
    mulAdd4(
      dst,
      start,
      words,
      a.source,
      mulTable16(a.c),
      b.source,
      mulTable16(b.c),
      c.source,
      mulTable16(c.c),
      d.source,
      mulTable16(d.c),
    );
  }
}

function mulAdd4(
  dst: Uint32Array,
  start: number,
  words: number,
  a: Uint32Array,
  ta: Uint16Array,
  b: Uint32Array,
  tb: Uint16Array,
  c: Uint32Array,
  tc: Uint16Array,
  d: Uint32Array,
  td: Uint16Array,
): void {
  const end = start + words;
  for (let i = start; i < end; i++) {
    const va = a[i];
    const vb = b[i];
    const vc = c[i];
    const vd = d[i];
    dst[i] ^=
      (ta[va & 0xffff] ^ tb[vb & 0xffff] ^ tc[vc & 0xffff] ^ td[vd & 0xffff]) |
      ((ta[va >>> 16] ^ tb[vb >>> 16] ^ tc[vc >>> 16] ^ td[vd >>> 16]) << 16);
  }
}

/**
 * The inverse of a square matrix over GF(2^8) (Gauss–Jordan).
 *
 * @param matrix Rows of field elements (0–255).
 * @throws InvalidArgumentError when the matrix is singular.
 */
export function invertMatrix(matrix: readonly (readonly number[])[]): number[][] {
  const size = matrix.length;
  const work = matrix.map((row, r) => [...row, ...Array.from({ length: size }, (_, c) => (c === r ? 1 : 0))]);
  for (let r = 0; r < size; r++) {
    const pivot = work.findIndex((row, i) => i >= r && row[r] !== 0);
    if (pivot < 0) throw new InvalidArgumentError("singular matrix over GF(2^8)", { details: { size, column: r } });
    [work[r], work[pivot]] = [work[pivot], work[r]];
    const scale = gfInv(work[r][r]);
    work[r] = work[r].map((v) => gfMul(v, scale));
    for (let i = 0; i < size; i++) {
      const factor = work[i][r];
      if (i === r || factor === 0) continue;
      work[i] = work[i].map((v, c) => v ^ gfMul(factor, work[r][c]));
    }
  }
  return work.map((row) => row.slice(size));
}

/** The product of two matrices over GF(2^8). */
export function multiplyMatrices(a: readonly (readonly number[])[], b: readonly (readonly number[])[]): number[][] {
  return a.map((row) =>
    Array.from({ length: b[0].length }, (_, c) => row.reduce((acc, v, j) => acc ^ gfMul(v, b[j][c]), 0)),
  );
}

/**
 * The (dataCount + parityCount) × dataCount systematic Reed–Solomon encoding matrix of
 * Backblaze/klauspost: the Vandermonde matrix V[r][c] = r^c times the inverse of its top square,
 * so the top rows are the identity and row dataCount + i gives parity i.
 *
 * @throws InvalidArgumentError when dataCount + parityCount > 256 or dataCount < 1.
 */
export function rsEncodingMatrix(dataCount: number, parityCount: number): number[][] {
  if (dataCount < 1 || parityCount < 0 || dataCount + parityCount > 256) {
    throw new InvalidArgumentError("a Reed–Solomon code over GF(2^8) has 1 ≤ k and k + m ≤ 256", {
      details: { dataCount, parityCount },
    });
  }
  const vandermonde = Array.from({ length: dataCount + parityCount }, (_, r) =>
    Array.from({ length: dataCount }, (_, c) => gfPow(r, c)),
  );
  return multiplyMatrices(vandermonde, invertMatrix(vandermonde.slice(0, dataCount)));
}
