import { QUAD_PADDED_BYTES as QUAD_PADDED, QUAD_PAYLOAD_BYTES as QUAD_PAYLOAD } from "./constants";

// Module-level copies of the sizes: the loops below run once per quad (8,192 times a MiB), and a
// bundler's CommonJS output reads an imported binding through a getter call each time.
const QUAD_PADDED_BYTES: number = QUAD_PADDED;
const QUAD_PAYLOAD_BYTES: number = QUAD_PAYLOAD;

/**
 * Fr32 padding (Filecoin): every 127 payload bytes (1016 bits) become four 254-bit field
 * elements, each stored little-endian in 32 bytes with its two top bits zero. Bit-exact with
 * `@web3-storage/data-segment`'s `pad` and go-fil-commp-hashhash.
 *
 * @param src Payload; must hold `quads · 127` bytes from `srcOffset`.
 * @param srcOffset First payload byte.
 * @param quads Number of quads to pad.
 * @param dst Output; receives `quads · 128` bytes from `dstOffset`.
 * @param dstOffset First output byte.
 */
export function fr32PadQuads(
  src: Uint8Array,
  srcOffset: number,
  quads: number,
  dst: Uint8Array,
  dstOffset: number,
): void {
  // Works on 32-bit little-endian words: shifting a word left by 2, 4 or 6 moves each byte's top
  // bits into the next byte, so only the word's first byte needs the previous byte's bits.
  const sv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const dv = new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
  for (let q = 0; q < quads; q++) {
    const r = srcOffset + q * QUAD_PAYLOAD_BYTES;
    const w = dstOffset + q * QUAD_PADDED_BYTES;
    // Element 0: bits 0..253 → bytes 0..31 as-is, top two bits cleared.
    for (let j = 0; j < 32; j += 4) dv.setUint32(w + j, sv.getUint32(r + j, true), true);
    dst[w + 31] &= 0x3f;
    // Element 1: bits 254..507, shifted left by 2.
    for (let j = 32; j < 64; j += 4) {
      dv.setUint32(w + j, ((sv.getUint32(r + j, true) << 2) | (src[r + j - 1] >>> 6)) >>> 0, true);
    }
    dst[w + 63] &= 0x3f;
    // Element 2: bits 508..761, shifted left by 4.
    for (let j = 64; j < 96; j += 4) {
      dv.setUint32(w + j, ((sv.getUint32(r + j, true) << 4) | (src[r + j - 1] >>> 4)) >>> 0, true);
    }
    dst[w + 95] &= 0x3f;
    // Element 3: bits 762..1015, shifted left by 6; the last word would read past the quad.
    for (let j = 96; j < 124; j += 4) {
      dv.setUint32(w + j, ((sv.getUint32(r + j, true) << 6) | (src[r + j - 1] >>> 2)) >>> 0, true);
    }
    dst[w + 124] = ((src[r + 124] << 6) | (src[r + 123] >> 2)) & 0xff;
    dst[w + 125] = ((src[r + 125] << 6) | (src[r + 124] >> 2)) & 0xff;
    dst[w + 126] = ((src[r + 126] << 6) | (src[r + 125] >> 2)) & 0xff;
    dst[w + 127] = src[r + 126] >> 2;
  }
}

/**
 * Inverse of {@link fr32PadQuads}: recovers `quads · 127` payload bytes.
 *
 * @param src Padded bytes (`quads · 128` from `srcOffset`).
 * @param srcOffset First padded byte.
 * @param quads Number of quads.
 * @param dst Output (`quads · 127` bytes from `dstOffset`).
 * @param dstOffset First output byte.
 */
export function fr32UnpadQuads(
  src: Uint8Array,
  srcOffset: number,
  quads: number,
  dst: Uint8Array,
  dstOffset: number,
): void {
  for (let q = 0; q < quads; q++) {
    const r = srcOffset + q * QUAD_PADDED_BYTES;
    const w = dstOffset + q * QUAD_PAYLOAD_BYTES;
    for (let i = 0; i < 31; i++) dst[w + i] = src[r + i];
    dst[w + 31] = (src[r + 31] & 0x3f) | ((src[r + 32] & 0x03) << 6);
    for (let i = 32; i < 63; i++) dst[w + i] = ((src[r + i] >> 2) | (src[r + i + 1] << 6)) & 0xff;
    dst[w + 63] = ((src[r + 63] & 0x3f) >> 2) | ((src[r + 64] & 0x0f) << 4);
    for (let i = 64; i < 95; i++) dst[w + i] = ((src[r + i] >> 4) | (src[r + i + 1] << 4)) & 0xff;
    dst[w + 95] = ((src[r + 95] & 0x3f) >> 4) | ((src[r + 96] & 0x3f) << 2);
    for (let i = 96; i < 127; i++) dst[w + i] = ((src[r + i] >> 6) | (src[r + i + 1] << 2)) & 0xff;
  }
}
