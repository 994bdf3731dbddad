/**
 * `npm run bench`: speed figures of the data plane, printed as a table and written to
 * `bench-report.json` as `{ "<figure>": value }`. Targets are goals, not assertions
 * (docs/decisions.md records where we land).
 *
 *   encode/4+2/MBps, encode/10+4/MBps   Reed–Solomon parity, MB of data per second, one worker
 *   encode/clay/4+2/MBps, …/10+4/MBps   Clay (MSR) parity, pure TypeScript, one core (goals ≥ 250, ≥ 150)
 *   repair/clay/4+2/rebuildPieceMs      a 64 MiB piece (BENCH_MB) rebuilt from d helpers' sub-chunks (…/10+4/… too)
 *   repair/rs/4+2/rebuildPieceMs        the same piece rebuilt by Reed–Solomon from k shares a stripe (…/10+4/… too)
 *   repair/clay/K+M/plannedPieces       what a Clay repair asks its helpers for ÷ the piece size, d·β/α
 *   repair/clay/K+M/piecesDownloaded    a real Clay repair's download ÷ the piece size (demo --code clay;
 *                                       10 + 4 with 15 providers, skipped with BENCH_CLAY_10_4=0)
 *   commp/MBps                          streaming CommP of one payload, one core
 *   prepare/4+2/MBps                    file → n pieces with CommPs and droot on disk, both cores
 *   prepare/clay/4+2/MBps               the same for a Clay (d = 5) file, the default code (decision 45)
 *   store/overhead/4MiB, …/1GiB         bytes a 4 + 2 repair bid pays for ÷ file bytes (goals ≤ 1.6, ≤ 1.55)
 *   store/direct/MBps                   client → local provider over HTTP, CommP checked there
 *   store/plainPut/MBps                 the same bytes by one plain HTTP PUT to a local server (best of 3)
 *   store/direct/ratioToPlainPut        plainPut time ÷ store/direct time (goal ≥ 0.8)
 *   retrieve/4+2/MBps                   whole file from six local providers, paid, verified, decoded
 *   retrieve/plainGet/MBps              the same bytes by one plain HTTP GET from a local server
 *   retrieve/range/1MiB/ms              a paid 1 MiB range from the middle of the file: to its last byte
 *   retrieve/range/1MiB/ttfb/ms         … to its first byte written (…/fetchedPerByte: bytes fetched ÷ 1 MiB)
 *   retrieve/1GiB/peakRssMiB            peak RSS of a separate `client retrieve --out -` process
 *                                       streaming the whole file (only with BENCH_MB ≥ 1024; goal < 300)
 *   retrieve/wan/MBps                   retrieve/4+2 with the providers and the chain behind WAN
 *                                       proxies (40 ms each way, 100 Mbit/s links: wan/linkMBps each)
 *   repair/piecesDownloaded             bytes a repair downloaded / piece size (goal: exactly k = 4)
 *   repair/faultToReassign/epochs       from the fault the miner saw to reassignPiece (goal ≤ 2 periods)
 *   repair/faultToConfirmed/epochs      from the fault to the new deal's first proof (goal ≤ 3 periods)
 *
 * The repair figures come from one `npm run demo -- --json` run (BENCH_REPAIR=0 skips it).
 * BENCH_MB sets the data size (default 64).
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { ErasurePool } from "../actors-ts/erasure/erasure-pool";
import { encodeStripe } from "../actors-ts/erasure/reed-solomon";
import { CommPHasher } from "../actors-ts/piece/commp";
import { prepareFile } from "../actors-ts/manifest/prepare";
import { benchPlainPut, benchStoreDirect } from "./bench/store-direct";
import { benchRetrieve } from "./bench/retrieve";
import { benchRepair } from "./bench/repair";
import { benchOverhead } from "./bench/overhead";
import { benchClay } from "./bench/clay";

const MB = 1e6;
const SIZE = Number(process.env.BENCH_MB ?? 64) * 1024 * 1024;
const results: { figure: string; value: number; unit: string; goal?: string }[] = [];

function record(figure: string, value: number, unit: string, goal?: string, digits = 1): void {
  const scale = 10 ** digits;
  results.push({ figure, value: Math.round(value * scale) / scale, unit, goal });
}

/** Best of `runs` timings of `fn`, seconds. */
async function best(runs: number, fn: () => Promise<void> | void): Promise<number> {
  let fastest = Infinity;
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await fn();
    fastest = Math.min(fastest, (performance.now() - started) / 1000);
  }
  return fastest;
}

function benchEncode(k: number, m: number): void {
  const shareSize = 1 << 20;
  const stripe = new Uint8Array((k + m) * shareSize);
  stripe.set(randomBytes(k * shareSize));
  const stripes = Math.max(1, Math.floor(SIZE / (k * shareSize)));
  encodeStripe(stripe, k, m); // warm up
  const started = performance.now();
  for (let s = 0; s < stripes; s++) encodeStripe(stripe, k, m);
  const seconds = (performance.now() - started) / 1000;
  record(`encode/${k}+${m}/MBps`, (stripes * k * shareSize) / MB / seconds, "MB/s");
}

/** The range and peak-RSS figures of {@link benchRetrieve}, when it measured them. */
function recordRetrievalExtras(retrieve: Awaited<ReturnType<typeof benchRetrieve>>): void {
  if (retrieve.range) {
    record("retrieve/range/1MiB/ms", retrieve.range.ttlbMs, "ms");
    record("retrieve/range/1MiB/ttfb/ms", retrieve.range.ttfbMs, "ms");
    record("retrieve/range/1MiB/fetchedPerByte", retrieve.range.fetchedPerByte, "×", "≈ 1", 3);
  }
  if (retrieve.peakRssMiB !== undefined) record("retrieve/1GiB/peakRssMiB", retrieve.peakRssMiB, "MiB", "< 300");
}

/** The figures of {@link benchClay}. */
function recordClay(clay: ReturnType<typeof benchClay>): void {
  record("encode/clay/4+2/MBps", clay.encodeMBps["4+2"], "MB/s", "≥ 250");
  record("encode/clay/10+4/MBps", clay.encodeMBps["10+4"], "MB/s", "≥ 150");
  record("repair/clay/4+2/rebuildPieceMs", clay.rebuildPieceMs["4+2"], "ms", undefined, 0);
  record("repair/clay/10+4/rebuildPieceMs", clay.rebuildPieceMs["10+4"], "ms", undefined, 0);
  record("repair/rs/4+2/rebuildPieceMs", clay.rsRebuildPieceMs["4+2"], "ms", undefined, 0);
  record("repair/rs/10+4/rebuildPieceMs", clay.rsRebuildPieceMs["10+4"], "ms", undefined, 0);
  record("repair/clay/4+2/plannedPieces", clay.piecesDownloaded["4+2"], "pieces", "= d·β/α (2.5)", 2);
  record("repair/clay/10+4/plannedPieces", clay.piecesDownloaded["10+4"], "pieces", "= d·β/α (3.25)", 2);
}

async function main(): Promise<void> {
  benchEncode(4, 2);
  benchEncode(10, 4);
  recordClay(benchClay(SIZE));

  const payload = randomBytes(SIZE);
  const commpSeconds = await best(3, () => {
    new CommPHasher().update(payload).digest();
  });
  record("commp/MBps", SIZE / MB / commpSeconds, "MB/s");

  const dir = await mkdtemp(join(tmpdir(), "rm-bench-"));
  try {
    const file = join(dir, "file.bin");
    await writeFile(file, payload);
    const pool = new ErasurePool();
    try {
      const prepareSeconds = await best(3, async () => {
        await prepareFile(file, { k: 4, m: 2, outDir: join(dir, "pieces"), pool });
      });
      record("prepare/4+2/MBps", SIZE / MB / prepareSeconds, "MB/s", "≥ 300");
      // The same with Clay (d = 5), the default code of a repair-backed file this size (decision 45).
      const clayPrepareSeconds = await best(3, async () => {
        await prepareFile(file, { k: 4, m: 2, coding: { scheme: "clay", d: 5 }, outDir: join(dir, "pieces"), pool });
      });
      record("prepare/clay/4+2/MBps", SIZE / MB / clayPrepareSeconds, "MB/s");
      const overhead = await benchOverhead(dir, pool);
      record("store/overhead/4MiB", overhead.at4MiB, "× file", "≤ 1.6", 3);
      record("store/overhead/1GiB", overhead.at1GiB, "× file", "≤ 1.55", 3);
    } finally {
      await pool.close();
    }
    const store = await benchStoreDirect(dir, file);
    record("store/direct/MBps", SIZE / MB / store.uploadSeconds, "MB/s");
    let plainPutSeconds = Infinity;
    for (let run = 0; run < 3; run++) {
      plainPutSeconds = Math.min(plainPutSeconds, (await benchPlainPut(dir, file)).uploadSeconds);
    }
    record("store/plainPut/MBps", SIZE / MB / plainPutSeconds, "MB/s");
    record("store/direct/ratioToPlainPut", plainPutSeconds / store.uploadSeconds, "×", "≥ 0.8", 2);
    const retrieve = await benchRetrieve(join(dir, "retrieve"), file, SIZE, {
      range: true,
      peakRss: SIZE >= 1024 * 1024 * 1024,
    });
    record("retrieve/4+2/MBps", SIZE / MB / retrieve.warmSeconds, "MB/s");
    record("retrieve/4+2/cold/MBps", SIZE / MB / retrieve.coldSeconds, "MB/s");
    record("retrieve/plainGet/MBps", SIZE / MB / retrieve.plainSeconds, "MB/s");
    record("retrieve/4+2/ratioToPlain", retrieve.plainSeconds / retrieve.warmSeconds, "×", "≥ 0.8");
    recordRetrievalExtras(retrieve);
    const wan = await benchRetrieve(join(dir, "retrieve-wan"), file, SIZE, { wan: true });
    record("retrieve/wan/MBps", SIZE / MB / wan.warmSeconds, "MB/s");
    record("retrieve/wan/linkMBps", 100e6 / 8 / MB, "MB/s");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  if (process.env.BENCH_REPAIR !== "0") {
    const repair = await benchRepair(["--code", "rs"]);
    record("repair/piecesDownloaded", repair.piecesDownloaded, "pieces", "= k (4)");
    record(
      "repair/faultToReassign/epochs",
      repair.faultToReassignEpochs,
      "epochs",
      `≤ ${2 * repair.provingPeriodEpochs} (2 periods)`,
    );
    record(
      "repair/faultToConfirmed/epochs",
      repair.faultToConfirmedEpochs,
      "epochs",
      `≤ ${3 * repair.provingPeriodEpochs} (3 periods)`,
    );
    record("repair/demoWall/s", repair.wallSeconds, "s");
    // Real Clay repairs (the demo kills a holder): bytes the miner downloaded ÷ the piece size.
    const clay42 = await benchRepair(["--code", "clay"]);
    record("repair/clay/4+2/piecesDownloaded", clay42.piecesDownloaded, "pieces", "2.5 + roots", 2);
    if (process.env.BENCH_CLAY_10_4 !== "0") {
      const clay104 = await benchRepair(["--code", "clay", "--k", "10", "--m", "4", "--providers", "15"]);
      record("repair/clay/10+4/piecesDownloaded", clay104.piecesDownloaded, "pieces", "3.25 + roots", 2);
    }
  }

  console.table(results);
  writeFileSync(
    "bench-report.json",
    JSON.stringify(Object.fromEntries(results.map((r) => [r.figure, r.value])), null, 2) + "\n",
  );
  console.log("wrote bench-report.json");
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
