import { randomBytes } from "node:crypto";
import { clayEncode, clayParams, clayRepair, clayRepairHelpers, clayRepairPlanes } from "../../actors-ts/erasure/clay";
import { DEFAULT_MAX_SHARE_SIZE } from "../../actors-ts/erasure/layout";
import { encodeStripe, reconstructStripe } from "../../actors-ts/erasure/reed-solomon";

/** What {@link benchClay} measured, one core, pure TypeScript. */
export interface ClayFigures {
  /** MB (10^6 bytes) of data encoded per second: k data shares in, m parity shares out. */
  encodeMBps: { "4+2": number; "10+4": number };
  /** Milliseconds to rebuild one lost piece of the given size from d helpers' repair sub-chunks. */
  rebuildPieceMs: { "4+2": number; "10+4": number };
  /** The same piece rebuilt by Reed–Solomon from k whole shares per stripe (WASM), for comparison. */
  rsRebuildPieceMs: { "4+2": number; "10+4": number };
  /** Bytes the helpers send for a repair ÷ the piece size, d · beta / alpha (RS: k). */
  piecesDownloaded: { "4+2": number; "10+4": number };
}

/** Best of `runs` timings of `fn`, seconds. */
function best(runs: number, fn: () => void): number {
  let fastest = Infinity;
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    fn();
    fastest = Math.min(fastest, (performance.now() - started) / 1000);
  }
  return fastest;
}

/**
 * Clay codes' speed on one core, with the project's default share (127 · 1024 = 130,048 bytes,
 * so sub-chunks of 127 · 2^j bytes: 16,256 for 4 + 2 with alpha 8, 508 for 10 + 4 with alpha 256).
 *
 * - encode: `dataBytes` of data in stripes, the same stripe's data encoded again each time (best of 3).
 * - repair: one lost data share of every stripe of a `dataBytes` piece rebuilt from d = n − 1
 *   helpers' beta sub-chunks, prepared beforehand (what a repairer does after the downloads; best of 3).
 *
 * @param dataBytes Data encoded, and the size of the repaired piece (default 64 MiB).
 */
export function benchClay(dataBytes = 64 * 1024 * 1024): ClayFigures {
  const figures: ClayFigures = {
    encodeMBps: { "4+2": 0, "10+4": 0 },
    rebuildPieceMs: { "4+2": 0, "10+4": 0 },
    rsRebuildPieceMs: { "4+2": 0, "10+4": 0 },
    piecesDownloaded: { "4+2": 0, "10+4": 0 },
  };
  const codes = [
    { name: "4+2", k: 4, m: 2 },
    { name: "10+4", k: 10, m: 4 },
  ] as const;
  for (const { name, k, m } of codes) {
    const params = clayParams(k, m);
    const shareSize = DEFAULT_MAX_SHARE_SIZE;
    const subChunkSize = shareSize / params.alpha;
    const data = Array.from({ length: k }, () => new Uint8Array(randomBytes(shareSize)));
    const encodeStripes = Math.max(1, Math.round(dataBytes / (k * shareSize)));
    const parity = clayEncode(params, data, subChunkSize);
    const encodeSeconds = best(3, () => {
      for (let s = 0; s < encodeStripes; s++) clayEncode(params, data, subChunkSize);
    });
    figures.encodeMBps[name] = (encodeStripes * k * shareSize) / 1e6 / encodeSeconds;

    const shares = [...data, ...parity];
    const lost = 0;
    const planes = clayRepairPlanes(params, lost);
    const helpers = new Map(
      clayRepairHelpers(params, lost).map((i) => {
        const message = new Uint8Array(planes.length * subChunkSize);
        planes.forEach((z, j) =>
          message.set(shares[i].subarray(z * subChunkSize, (z + 1) * subChunkSize), j * subChunkSize),
        );
        return [i, message];
      }),
    );
    const pieceStripes = Math.max(1, Math.round(dataBytes / shareSize));
    const repairSeconds = best(3, () => {
      for (let s = 0; s < pieceStripes; s++) clayRepair(params, lost, helpers, subChunkSize);
    });
    figures.rebuildPieceMs[name] = repairSeconds * 1000;

    // Reed–Solomon: the same lost share of every stripe rebuilt from the k + m − 1 others present.
    const stripe = new Uint8Array((k + m) * shareSize);
    stripe.set(randomBytes(k * shareSize));
    encodeStripe(stripe, k, m);
    const present = Array.from({ length: k + m }, (_, i) => i !== lost);
    const rsSeconds = best(3, () => {
      for (let s = 0; s < pieceStripes; s++) reconstructStripe(stripe, k, m, present);
    });
    figures.rsRebuildPieceMs[name] = rsSeconds * 1000;
    figures.piecesDownloaded[name] = (params.d * params.beta) / params.alpha;
  }
  return figures;
}

if (require.main === module) {
  const size = Number(process.env.BENCH_MB ?? 64) * 1024 * 1024;
  const figures = benchClay(size);
  console.table({
    "encode/clay/4+2/MBps": figures.encodeMBps["4+2"].toFixed(1),
    "encode/clay/10+4/MBps": figures.encodeMBps["10+4"].toFixed(1),
    "repair/clay/4+2/rebuildPieceMs": figures.rebuildPieceMs["4+2"].toFixed(0),
    "repair/clay/10+4/rebuildPieceMs": figures.rebuildPieceMs["10+4"].toFixed(0),
    "repair/rs/4+2/rebuildPieceMs": figures.rsRebuildPieceMs["4+2"].toFixed(0),
    "repair/rs/10+4/rebuildPieceMs": figures.rsRebuildPieceMs["10+4"].toFixed(0),
    "repair/clay/4+2/piecesDownloaded": figures.piecesDownloaded["4+2"],
    "repair/clay/10+4/piecesDownloaded": figures.piecesDownloaded["10+4"],
  });
}
