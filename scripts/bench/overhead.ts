import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ErasurePool } from "../../actors-ts/erasure/erasure-pool";
import { chooseShareSize, fileLayout } from "../../actors-ts/erasure/layout";
import { encodedPayloadBytes } from "../../actors-ts/manifest/manifest";
import { prepareFile } from "../../actors-ts/manifest/prepare";

/**
 * Storage overhead a client pays, 4 + 2: bytes paid for (a repair bid's `size`,
 * `encodedPayloadBytes`) ÷ file bytes. Erasure coding alone costs (k + m) / k = 1.5.
 *
 * - `at4MiB`: a real 4 MiB file prepared with `prepareFile`, the same path `client store --repair`
 *   takes.
 * - `at1GiB`: from the layout `prepareFile` would choose for 1 GiB (`chooseShareSize`,
 *   `fileLayout`), without writing 1.5 GiB of pieces: (k + m) × the layout's piece payload.
 */
export async function benchOverhead(dir: string, pool: ErasurePool): Promise<{ at4MiB: number; at1GiB: number }> {
  const k = 4;
  const m = 2;
  const small = 4 * 1024 * 1024;
  const file = join(dir, "overhead-4MiB.bin");
  await writeFile(file, randomBytes(small));
  const { manifest } = await prepareFile(file, { k, m, outDir: join(dir, "overhead-pieces"), pool });
  const at4MiB = Number(encodedPayloadBytes(manifest)) / small;
  const big = 1024 * 1024 * 1024;
  const layout = fileLayout(big, k, m, chooseShareSize(big, k));
  const at1GiB = ((k + m) * layout.pieceSize) / big;
  return { at4MiB, at1GiB };
}
