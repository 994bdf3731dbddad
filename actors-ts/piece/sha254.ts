import { hashInto } from "@chainsafe/hashtree";
import { NODE_BYTES as NODE } from "./constants";

// A module-level copy: `hashLayer` masks one byte per node in a loop, and a bundler's CommonJS
// output reads an imported binding through a getter call each time.
const NODE_BYTES: number = NODE;

/**
 * sha254: SHA-256 with the two most significant bits of the digest's last byte cleared, the
 * node hash of Filecoin's piece-commitment tree (FRC-0069). Batched through
 * `@chainsafe/hashtree`, which hashes many 64-byte pairs per native call.
 */

/**
 * Hashes one tree layer into the next: `input` holds 2n nodes (64n bytes), `output` receives
 * n parents (32n bytes).
 *
 * @param input Child nodes, left then right, back to back.
 * @param output Parent nodes; may not overlap `input`.
 */
export function hashLayer(input: Uint8Array, output: Uint8Array): void {
  hashInto(input, output);
  for (let i = NODE_BYTES - 1; i < output.length; i += NODE_BYTES) output[i] &= 0x3f;
}

const pairScratch = new Uint8Array(2 * NODE_BYTES);

/**
 * sha254(left ‖ right).
 *
 * @param left 32-byte node.
 * @param right 32-byte node.
 * @returns A new 32-byte parent node.
 */
export function hashPair(left: Uint8Array, right: Uint8Array): Uint8Array {
  pairScratch.set(left, 0);
  pairScratch.set(right, NODE_BYTES);
  const out = new Uint8Array(NODE_BYTES);
  hashLayer(pairScratch, out);
  return out;
}

const zeroRoots: Uint8Array[] = [new Uint8Array(NODE_BYTES)];

/**
 * Root of a subtree of 2^height zero leaves (Filecoin's "zero commitments").
 *
 * @param height 0..63.
 * @returns A shared 32-byte node; do not mutate.
 */
export function zeroRoot(height: number): Uint8Array {
  while (zeroRoots.length <= height) {
    const below = zeroRoots[zeroRoots.length - 1];
    zeroRoots.push(hashPair(below, below));
  }
  return zeroRoots[height];
}

/**
 * Scratch bytes {@link subtreeRoot} needs for a subtree of `leavesBytes` bytes of leaves: two
 * alternating layers, half and a quarter of it.
 */
export function subtreeScratchBytes(leavesBytes: number): number {
  return (leavesBytes / 2) * 1.5;
}

/**
 * Root of a complete subtree whose leaves are given back to back. Layers alternate between two
 * regions of the scratch, so nothing is allocated or copied per layer (a copy of each layer
 * allocated half the chunk again, per chunk hashed).
 *
 * @param leaves 2^h nodes (32·2^h bytes), h ≥ 0.
 * @param scratch Optional buffer of at least {@link subtreeScratchBytes}(leaves.length) bytes.
 * @returns A new 32-byte root.
 */
export function subtreeRoot(leaves: Uint8Array, scratch?: Uint8Array): Uint8Array {
  if (leaves.length === NODE_BYTES) return leaves.slice();
  const half = leaves.length / 2;
  const need = subtreeScratchBytes(leaves.length);
  const buf = scratch && scratch.length >= need ? scratch : new Uint8Array(need);
  let layer = buf.subarray(0, half);
  hashLayer(leaves, layer);
  let inSecond = false;
  while (layer.length > NODE_BYTES) {
    const next = layer.length / 2;
    // The parents go to the region the children are not in: [0, half) or [half, half + half / 2).
    const target = inSecond ? buf.subarray(0, next) : buf.subarray(half, half + next);
    hashLayer(layer, target);
    layer = target;
    inSecond = !inSecond;
  }
  return layer.slice(0, NODE_BYTES);
}
