import type { Command } from "commander";
import { getAddress } from "viem";
import { RetrievalClient } from "../client/retrieval/retrieval-client";
import { describeCorrupt, type CorruptPiece, type FileRetrievalResult } from "../client/retrieval/file-retrieval";
import { parseByteRange, type ByteRange } from "../client/retrieval/range-plan";
import { streamSink } from "../core/byte-sink";
import { stringifyJson } from "../core/json";
import { ErasurePool } from "../erasure/erasure-pool";
import { parseIntOption, reportError } from "./common";
import { openClient, withClientOptions, type ClientOptions, type OpenedClient } from "./client-common";
import { InvalidArgumentError } from "../core/errors";
import { parsePieceCidV2 } from "../piece/piece-cid";
import { barsEnabled, byteBar, type ByteBar } from "./progress-bars";

/** Options of `client retrieve`. */
interface RetrieveCliOptions extends ClientOptions {
  /** Where the file or piece is written (atomically), or "-": the file's bytes to stdout, in order. */
  out: string;
  /** `START-END`: only these bytes of the file (inclusive), paying only for the pieces' bytes that hold them. */
  range?: string;
  /** Provider of a single piece. */
  provider?: string;
  /** Pay for a piece even if this client holds a deal on it. */
  paid?: boolean;
  /** A provider that sends nothing for this long is replaced, ms. */
  stallTimeoutMs?: number;
  /** Cap on each piece download, bytes per second. */
  maxDownloadRate?: number;
}

/** What one `client retrieve` works with once the client is open. */
interface RetrieveContext {
  opened: OpenedClient;
  retrieval: RetrievalClient;
  bar: ByteBar;
  /** Retrieval events, printed with the error under --json. */
  events: string[];
  opts: RetrieveCliOptions;
  /** `--out -`: the file's bytes go to stdout, so every report goes to stderr. */
  toStdout: boolean;
}

/** Writes a report line or JSON document: on stdout, or on stderr when stdout carries the file. */
function report(toStdout: boolean, text: string): void {
  (toStdout ? process.stderr : process.stdout).write(text);
}

/** One JSON document (bigints as strings), see {@link report}. */
function reportJson(toStdout: boolean, value: unknown): void {
  report(toStdout, stringifyJson(value, 2) + "\n");
}

/** An error as JSON: its own `toJSON()` when it has one (RepairMarketError), else name and message. */
function errorJson(err: unknown): unknown {
  const e = err as { toJSON?: () => unknown; name: string; message: string };
  return e.toJSON ? e.toJSON() : { name: e.name, message: e.message };
}

/**
 * Adds `client retrieve <target> --out FILE|-` [--range START-END]: a whole file (or some of its
 * bytes) by its droot (any k pieces, paid), or one piece by its PieceCID (free from a provider
 * holding this client's deal on it, paid through a payment channel otherwise or with --paid).
 */
export function addRetrieve(parent: Command): void {
  withClientOptions(
    parent
      .command("retrieve")
      .description(
        "retrieve a whole file by its droot (0x…, any k pieces, paid), or bytes START-END of it with --range, " +
          "or one piece by its PieceCID (your own pieces free, --paid or others' through a payment channel)",
      )
      .argument("<target>", "droot (0x-prefixed 32 bytes) or PieceCID v2")
      .requiredOption(
        "--out <file>",
        "where to write it (atomically); - writes a file's verified bytes to stdout in order (reports go to stderr)",
      )
      .option("--range <start-end>", "only bytes START through END of the file (inclusive), paying only for them")
      .option("--provider <address>", "provider for a single piece")
      .option("--paid", "pay for a piece even if you hold a deal on it")
      .option("--stall-timeout-ms <ms>", "replace a provider that sends nothing for this long", parseIntOption)
      .option("--max-download-rate <bytes-per-second>", "cap each piece download's speed", parseIntOption),
  ).action(retrieveAction);
}

/**
 * `client retrieve`: prints what was written, or the whole result with --json (on stderr with
 * `--out -`). On failure it prints the error (with --json: `{ ok: false, error, events }`) and
 * sets exit code 1. A progress bar runs on stderr when it is a terminal and --json is not given.
 */
async function retrieveAction(target: string, opts: RetrieveCliOptions): Promise<void> {
  const events: string[] = [];
  const toStdout = opts.out === "-";
  try {
    const isDroot = /^0x[0-9a-fA-F]{64}$/.test(target);
    if (!isDroot) assertPieceCid(target);
    const range = opts.range === undefined ? undefined : parseByteRange(opts.range);
    if (!isDroot && (range || toStdout)) {
      throw new InvalidArgumentError("--range and --out - take a droot (0x and 64 hex digits), not a PieceCID");
    }
    const opened = await openClient(opts);
    const { store, clients, contracts, logger, workDir } = opened;
    const pool = isDroot ? new ErasurePool() : undefined;
    const retrieval = new RetrievalClient({ clients, contracts, store, logger, pool, workDir });
    const bar = byteBar(barsEnabled(opts.json));
    const ctx: RetrieveContext = { opened, retrieval, bar, events, opts, toStdout };
    try {
      if (isDroot && range) await retrieveRange(target as `0x${string}`, range, ctx);
      else if (isDroot) await retrieveWholeFile(target as `0x${string}`, ctx);
      else if (store.dealsForPiece(target).length > 0 && !opts.paid) await retrieveOwnPiece(target, ctx);
      else await retrievePaidPiece(target, ctx);
    } finally {
      bar.stop();
      await pool?.close();
      store.close();
    }
  } catch (err) {
    if (opts.json) reportJson(toStdout, { ok: false, error: errorJson(err), events });
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

/** The retrieval options the flags give, with the bar fed by the library's progress. */
function fileOptions(ctx: RetrieveContext, stage: string) {
  const { opts, bar } = ctx;
  return {
    stallTimeoutMs: opts.stallTimeoutMs,
    maxBytesPerSecond: opts.maxDownloadRate,
    onEvent: (line: string) => ctx.events.push(line),
    onProgress: (done: number, total: number, info: { providers: number }) =>
      bar.update(stage, done, total, info.providers),
    output: ctx.toStdout ? streamSink(process.stdout) : undefined,
  };
}

/** A whole file by its droot, rebuilt from any k pieces; reports corrupt and failed providers. */
async function retrieveWholeFile(droot: `0x${string}`, ctx: RetrieveContext): Promise<void> {
  const { opts, bar, toStdout } = ctx;
  const result = await ctx.retrieval.retrieveFile(droot, opts.out, fileOptions(ctx, "retrieve"));
  bar.stop();
  if (opts.json) reportJson(toStdout, { ok: true, ...result, outPath: toStdout ? "-" : result.outPath });
  else {
    report(
      toStdout,
      `wrote ${result.fileSize} bytes to ${toStdout ? "stdout" : result.outPath} (paid ${result.paid})\n`,
    );
    reportProviders(toStdout, result);
  }
}

/** Bytes START-END of a file by its droot, paying only for the pieces' bytes that hold them. */
async function retrieveRange(droot: `0x${string}`, range: ByteRange, ctx: RetrieveContext): Promise<void> {
  const { opts, bar, toStdout } = ctx;
  const options = fileOptions(ctx, "range");
  const result = await ctx.retrieval.retrieveRange(droot, range, options.output ?? opts.out, options);
  bar.stop();
  if (opts.json) reportJson(toStdout, { ok: true, ...result });
  else {
    const where = toStdout ? "stdout" : result.outPath;
    report(
      toStdout,
      `wrote bytes ${range.start}-${range.end} (${result.bytesWritten} bytes) to ${where}: fetched ${result.bytesFetched} bytes, paid ${result.paid}` +
        (result.decodedPieces.length > 0 ? `, rebuilt piece(s) ${result.decodedPieces.join(", ")} from parity` : "") +
        "\n",
    );
    reportProviders(toStdout, result);
  }
}

/** One line per provider that lied (with the evidence) or failed. */
function reportProviders(
  toStdout: boolean,
  result: { corruptProviders: CorruptPiece[]; failedProviders: FileRetrievalResult["failedProviders"] },
): void {
  for (const c of result.corruptProviders) {
    report(
      toStdout,
      `corrupt: provider ${c.provider} served bad bytes for piece ${c.pieceIndex} (${describeCorrupt(c)})\n`,
    );
  }
  for (const f of result.failedProviders) {
    report(toStdout, `failed: provider ${f.provider} piece ${f.pieceIndex}: ${f.error}\n`);
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
  if (opts.json) reportJson(false, { ok: true, pieceCid, out: opts.out, paid: 0n, ...result });
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
  if (opts.json) reportJson(false, { ok: true, ...result, out: opts.out });
  else
    process.stdout.write(`wrote ${result.bytes} bytes from ${result.provider} to ${opts.out} (paid ${result.paid})\n`);
}
