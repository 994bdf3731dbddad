import type { Command } from "commander";
import { SingleBar, Presets } from "cli-progress";
import { getAddress } from "viem";
import { RetrievalClient } from "../client/retrieval/retrieval-client";
import { describeCorrupt } from "../client/retrieval/file-retrieval";
import { ErasurePool } from "../erasure/erasure-pool";
import { parseIntOption, printJson, reportError } from "./common";
import { openClient, withClientOptions, type ClientOptions, type OpenedClient } from "./client-common";
import { InvalidArgumentError } from "../core/errors";
import { parsePieceCidV2 } from "../piece/piece-cid";

/** Options of `client retrieve`. */
interface RetrieveCliOptions extends ClientOptions {
  /** Where the file or piece is written (atomically). */
  out: string;
  /** Provider of a single piece. */
  provider?: string;
  /** Pay for a piece even if this client holds a deal on it. */
  paid?: boolean;
  /** A provider that sends nothing for this long is replaced, ms. */
  stallTimeoutMs?: number;
  /** Cap on each piece download, bytes per second. */
  maxDownloadRate?: number;
}

/** A byte progress bar on stderr. */
interface ProgressBar {
  /** Bytes received so far of `total`. */
  update: (done: number, total: number) => void;
  stop: () => void;
}

/** What one `client retrieve` works with once the client is open. */
interface RetrieveContext {
  opened: OpenedClient;
  retrieval: RetrievalClient;
  bar: ProgressBar;
  /** Retrieval events, printed with the error under --json. */
  events: string[];
  opts: RetrieveCliOptions;
}

/** A byte progress bar on a terminal, inert otherwise. */
function progressBar(enabled: boolean): ProgressBar {
  if (!enabled || !process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new SingleBar(
    { format: "retrieve {bar} {percentage}% | {value}/{total} bytes", stream: process.stderr },
    Presets.shades_classic,
  );
  let started = false;
  return {
    update: (done, total) => {
      if (!started) {
        bar.start(total, 0);
        started = true;
      }
      bar.update(done);
    },
    stop: () => {
      if (started) bar.stop();
      started = false;
    },
  };
}

/** An error as JSON: its own `toJSON()` when it has one (RepairMarketError), else name and message. */
function errorJson(err: unknown): unknown {
  const e = err as { toJSON?: () => unknown; name: string; message: string };
  return e.toJSON ? e.toJSON() : { name: e.name, message: e.message };
}

/**
 * Adds `client retrieve <target> --out FILE`: a whole file by its droot (any k pieces, paid), or
 * one piece by its PieceCID (free from a provider holding this client's deal on it, paid through a
 * payment channel otherwise or with --paid).
 */
export function addRetrieve(parent: Command): void {
  withClientOptions(
    parent
      .command("retrieve")
      .description(
        "retrieve a whole file by its droot (0x…, any k pieces, paid), or one piece by its PieceCID " +
          "(your own pieces free, --paid or others' through a payment channel)",
      )
      .argument("<target>", "droot (0x-prefixed 32 bytes) or PieceCID v2")
      .requiredOption("--out <file>", "where to write it (atomically)")
      .option("--provider <address>", "provider for a single piece")
      .option("--paid", "pay for a piece even if you hold a deal on it")
      .option("--stall-timeout-ms <ms>", "replace a provider that sends nothing for this long", parseIntOption)
      .option("--max-download-rate <bytes-per-second>", "cap each piece download's speed", parseIntOption),
  ).action(retrieveAction);
}

/**
 * `client retrieve`: prints what was written, or the whole result with --json. On failure it
 * prints the error (with --json: `{ ok: false, error, events }` on stdout) and sets exit code 1.
 */
async function retrieveAction(target: string, opts: RetrieveCliOptions): Promise<void> {
  const events: string[] = [];
  try {
    const isDroot = /^0x[0-9a-fA-F]{64}$/.test(target);
    if (!isDroot) assertPieceCid(target);
    const opened = await openClient(opts);
    const { store, clients, contracts, logger, workDir } = opened;
    const pool = isDroot ? new ErasurePool() : undefined;
    const retrieval = new RetrievalClient({ clients, contracts, store, logger, pool, workDir });
    const bar = progressBar(!opts.json);
    const ctx: RetrieveContext = { opened, retrieval, bar, events, opts };
    try {
      if (isDroot) await retrieveWholeFile(target as `0x${string}`, ctx);
      else if (store.dealsForPiece(target).length > 0 && !opts.paid) await retrieveOwnPiece(target, ctx);
      else await retrievePaidPiece(target, ctx);
    } finally {
      bar.stop();
      await pool?.close();
      store.close();
    }
  } catch (err) {
    if (opts.json) printJson({ ok: false, error: errorJson(err), events });
    else reportError(err, false);
    process.exitCode = 1;
  }
}

/**
 * Refuses a target that is neither a droot nor a PieceCID v2, before anything connects.
 *
 * @throws InvalidArgumentError saying what a target looks like.
 */
function assertPieceCid(target: string): void {
  try {
    parsePieceCidV2(target);
  } catch {
    throw new InvalidArgumentError(
      `"${target}" is neither a droot (0x and 64 hex digits) nor a PieceCID v2 (bafkzcib…)`,
    );
  }
}

/** A whole file by its droot, rebuilt from any k pieces; reports corrupt and failed providers. */
async function retrieveWholeFile(droot: `0x${string}`, ctx: RetrieveContext): Promise<void> {
  const { opts, bar } = ctx;
  const result = await ctx.retrieval.retrieveFile(droot, opts.out, {
    stallTimeoutMs: opts.stallTimeoutMs,
    maxBytesPerSecond: opts.maxDownloadRate,
    onEvent: (line) => ctx.events.push(line),
    onProgress: bar.update,
  });
  bar.stop();
  if (opts.json) printJson({ ok: true, ...result });
  else {
    process.stdout.write(`wrote ${result.fileSize} bytes to ${result.outPath} (paid ${result.paid})\n`);
    for (const c of result.corruptProviders) {
      process.stdout.write(
        `corrupt: provider ${c.provider} served bad bytes for piece ${c.pieceIndex} (${describeCorrupt(c)})\n`,
      );
    }
    for (const f of result.failedProviders)
      process.stdout.write(`failed: provider ${f.provider} piece ${f.pieceIndex}: ${f.error}\n`);
  }
}

/** A piece this client holds a deal on, free (from --provider, or any provider of its deals). */
async function retrieveOwnPiece(pieceCid: string, ctx: RetrieveContext): Promise<void> {
  const { opts } = ctx;
  const result = await ctx.opened.client.retrieveOwnPiece(
    pieceCid,
    opts.out,
    opts.provider ? getAddress(opts.provider) : undefined,
  );
  if (opts.json) printJson({ ok: true, pieceCid, out: opts.out, paid: 0n, ...result });
  else process.stdout.write(`wrote ${result.bytes} bytes from ${result.provider} to ${opts.out}\n`);
}

/** A piece from --provider, paid through a payment channel (token base units). */
async function retrievePaidPiece(pieceCid: string, ctx: RetrieveContext): Promise<void> {
  const { opts } = ctx;
  if (!opts.provider) throw new InvalidArgumentError("a paid piece retrieval needs --provider");
  const result = await ctx.retrieval.retrievePiece(pieceCid, getAddress(opts.provider), opts.out, {
    onEvent: (line) => ctx.events.push(line),
    maxBytesPerSecond: opts.maxDownloadRate,
  });
  if (opts.json) printJson({ ok: true, ...result, out: opts.out });
  else
    process.stdout.write(`wrote ${result.bytes} bytes from ${result.provider} to ${opts.out} (paid ${result.paid})\n`);
}
