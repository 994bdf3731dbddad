import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Hex } from "viem";
import type { ByteSink } from "../../actors-ts/core/byte-sink";
import type { RetrievalClient } from "../../actors-ts/client/retrieval/retrieval-client";

const ROOT = join(__dirname, "..", "..");
const CLI = join(ROOT, "bin", "repair-market.cjs");
const RANGE_BYTES = 1 << 20;

/** Time to first and last byte of a range retrieval, ms, and the bytes it fetched per byte asked. */
export interface RangeFigures {
  ttfbMs: number;
  ttlbMs: number;
  fetchedPerByte: number;
}

/**
 * Times a paid retrieval of 1 MiB from the middle of the file (`retrieveRange`, writing into a
 * sink that notes when the first byte arrives): best of three, on a reader whose channels to the
 * providers are already open.
 */
export async function benchRange(retrieval: RetrievalClient, droot: Hex, size: number): Promise<RangeFigures> {
  const length = Math.min(RANGE_BYTES, size);
  const start = Math.max(0, Math.floor(size / 2) - Math.floor(length / 2));
  const range = { start, end: start + length - 1 };
  let best: RangeFigures = { ttfbMs: Infinity, ttlbMs: Infinity, fetchedPerByte: 0 };
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    let firstByteAt: number | undefined;
    let written = 0;
    const sink: ByteSink = {
      async write(bytes) {
        firstByteAt ??= performance.now();
        written += bytes.length;
      },
      async commit() {},
      async abort() {},
    };
    const result = await retrieval.retrieveRange(droot, range, sink);
    const ttlbMs = performance.now() - started;
    if (written !== length) throw new Error(`range bench wrote ${written} bytes, expected ${length}`);
    if (ttlbMs < best.ttlbMs) {
      best = { ttfbMs: (firstByteAt ?? started) - started, ttlbMs, fetchedPerByte: result.bytesFetched / length };
    }
  }
  return best;
}

/** Where a separate client process finds the chain and its key. */
export interface ClientProcessArgs {
  rpcUrl: string;
  deploymentDir: string;
  /** 0x private key of the reader (passed in the environment, not on the command line). */
  key: Hex;
  dataDir: string;
}

/**
 * Peak resident memory of a separate `repair-market client retrieve DROOT --out -` process
 * retrieving the whole file, its stdout hashed as it streams (as `| sha256sum` would): the
 * process's own `resourceUsage().maxRSS` (worker threads included), written at exit by a
 * preloaded hook.
 *
 * @returns Peak RSS in MiB, and whether the stream hashed to `sha256`.
 */
export async function benchPeakRss(
  droot: Hex,
  sha256: string,
  client: ClientProcessArgs,
): Promise<{ peakRssMiB: number; hashOk: boolean }> {
  const rssFile = join(client.dataDir, "max-rss-kib");
  await mkdir(client.dataDir, { recursive: true });
  await rm(rssFile, { force: true });
  const args = [
    ...["--require", join(__dirname, "report-max-rss.cjs"), CLI, "client", "retrieve", droot, "--out", "-"],
    ...["--rpc", client.rpcUrl, "--deployment", client.deploymentDir, "--data-dir", client.dataDir],
  ];
  const hash = createHash("sha256");
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { ...process.env, RM_PRIVATE_KEY: client.key, BENCH_MAX_RSS_FILE: rssFile },
      stdio: ["ignore", "pipe", "inherit"],
    });
    child.stdout.on("data", (d: Buffer) => hash.update(d));
    child.on("error", reject);
    child.on("close", resolve);
  });
  if (code !== 0) throw new Error(`client retrieve --out - exited with ${code}`);
  const kib = Number((await readFile(rssFile, "utf8")).trim());
  return { peakRssMiB: kib / 1024, hashOk: hash.digest("hex") === sha256 };
}
