/**
 * An independent, slow reference of klauspost/reedsolomon's (and Backblaze's) code construction,
 * written from the algorithm, used only to check the WASM codec's layout: GF(2^8) with
 * generating polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11d), a (k+m) × k Vandermonde matrix
 * V[r][c] = r^c, multiplied by the inverse of its top k × k square so the data rows become the
 * identity; parity row i is row k + i.
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

function mul(a: number, b: number): number {
  return a === 0 || b === 0 ? 0 : EXP[LOG[a] + LOG[b]];
}

function div(a: number, b: number): number {
  if (b === 0) throw new Error("division by zero");
  return a === 0 ? 0 : EXP[(LOG[a] - LOG[b] + 255) % 255];
}

function pow(a: number, n: number): number {
  if (n === 0) return 1;
  if (a === 0) return 0;
  return EXP[(LOG[a] * n) % 255];
}

function invert(matrix: number[][]): number[][] {
  const size = matrix.length;
  const work = matrix.map((row, r) => [...row, ...Array.from({ length: size }, (_, c) => (c === r ? 1 : 0))]);
  for (let r = 0; r < size; r++) {
    if (work[r][r] === 0) {
      const swap = work.findIndex((row, i) => i > r && row[r] !== 0);
      if (swap < 0) throw new Error("singular matrix");
      [work[r], work[swap]] = [work[swap], work[r]];
    }
    const scale = work[r][r];
    work[r] = work[r].map((v) => div(v, scale));
    for (let i = 0; i < size; i++) {
      if (i === r || work[i][r] === 0) continue;
      const factor = work[i][r];
      work[i] = work[i].map((v, c) => v ^ mul(factor, work[r][c]));
    }
  }
  return work.map((row) => row.slice(size));
}

/** The (k + m) × k encoding matrix. */
export function encodingMatrix(k: number, m: number): number[][] {
  const vandermonde = Array.from({ length: k + m }, (_, r) => Array.from({ length: k }, (_, c) => pow(r, c)));
  const topInverse = invert(vandermonde.slice(0, k));
  return vandermonde.map((row) =>
    Array.from({ length: k }, (_, c) => row.reduce((acc, v, j) => acc ^ mul(v, topInverse[j][c]), 0)),
  );
}

/** Parity shares of `data` (k shares of equal length). */
export function referenceParity(data: Uint8Array[], m: number): Uint8Array[] {
  const k = data.length;
  const matrix = encodingMatrix(k, m);
  return Array.from({ length: m }, (_, i) => {
    const out = new Uint8Array(data[0].length);
    for (let b = 0; b < out.length; b++) {
      let acc = 0;
      for (let c = 0; c < k; c++) acc ^= mul(matrix[k + i][c], data[c][b]);
      out[b] = acc;
    }
    return out;
  });
}
