import { mkdir, rm } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { Address, Hex } from "viem";
import type { ByteSink } from "../../core/byte-sink";
import type { Manifest } from "../../manifest/manifest";
import {
  assertEnoughHolders,
  type ChainDealNote,
  type CorruptPiece,
  type FileRetrievalResult,
  type FileRetrieveOptions,
  type FileRetrieverDeps,
} from "./file-retrieval";
import { FileSources } from "./file-sources";
import { PieceFetcher, formatEvent } from "./piece-fetcher";
import { RangeFetchRun, type RangeFetchRequest } from "./range-fetch-run";
import { checkRange, dataSpans, type ByteRange } from "./range-plan";
import { writeRange } from "./range-writer";

/** What a byte-range retrieval did. Byte counts in bytes, amounts in token base units. */
export interface RangeRetrievalResult {
  retrievalId: string;
  droot: Hex;
  /** The bytes written: START through END of the file, inclusive. */
  range: ByteRange;
  /** Where they went ("-" for a stream). */
  outPath: string;
  fileSize: number;
  bytesWritten: number;
  /** Σ of the spans fetched in full (each paid at its provider's price per byte). */
  bytesFetched: number;
  /** Σ of the vouchers signed over all span fetches. */
  paid: bigint;
  /** Every span fetch, in the order started. */
  fetches: {
    pieceIndex: number;
    provider: Address;
    /** Payload bytes [start, end) of the piece. */
    start: number;
    end: number;
    status: "running" | "verified" | "failed";
    /** Token base units per byte (0 when the fetch failed before a retrieval was opened). */
    pricePerByte: bigint;
    paid: bigint;
  }[];
  /** Data pieces whose bytes were rebuilt from k others. */
  decodedPieces: number[];
  corruptProviders: CorruptPiece[];
  failedProviders: FileRetrievalResult["failedProviders"];
  events: string[];
}

/**
 * Bytes START–END of a file by its droot, fetched and paid for only where they lie (DESIGN.md's
 * systematic layout: the range's stripes, and in them only the data pieces' shares that hold its
 * bytes), each span rounded out to whole fr32 quads and checked against its piece commitment —
 * whole chunks against the chunk roots, the ends through a range proof the provider serves —
 * before a byte is written. A data piece whose holders all fail (dead, refusing, or lying: named
 * in `corruptProviders`) is decoded from the same bytes of any k other pieces. Bytes go to the
 * sink in file order as they are verified. Not resumed: a rerun fetches (and pays for) the range
 * again.
 */
export class RangeRetriever {
  private readonly fetcher: PieceFetcher;
  private readonly sources: FileSources;

  constructor(private readonly deps: FileRetrieverDeps) {
    this.fetcher = new PieceFetcher(deps);
    this.sources = new FileSources(deps);
  }

  /**
   * @param range Bytes of the file, inclusive; checked against the manifest's file size before
   *   anything is paid.
   * @param sink Receives the bytes in order; committed at the end, aborted on failure.
   * @param outPath Names the destination in the ledger and the result ("-" for a stream).
   * @throws RangeOutsideFileError (nothing paid), ManifestNotFoundError, NotEnoughPiecesError (with
   *   every provider's failure), and the sink's errors.
   */
  async retrieve(
    droot: Hex,
    range: ByteRange,
    sink: ByteSink,
    outPath: string,
    options: FileRetrieveOptions = {},
  ): Promise<RangeRetrievalResult> {
    const { ledger } = this.deps;
    const retrievalId = randomBytes(8).toString("hex");
    ledger.create({ id: retrievalId, kind: "range", target: droot, outPath: `${outPath}#${range.start}-${range.end}` });
    const events: string[] = [];
    const log = (line: string): void => {
      events.push(line);
      ledger.appendEvent(retrievalId, line);
      options.onEvent?.(line);
    };
    const workDir = join(this.deps.workDir, retrievalId);
    const chainDeals: ChainDealNote[] = [];
    try {
      await mkdir(workDir, { recursive: true });
      const holders = await this.sources.holders(droot, chainDeals);
      const manifest = await this.sources.manifest(droot, holders);
      checkRange(range, manifest.fileSize);
      await this.sources.probeHolders(manifest, holders);
      assertEnoughHolders(droot, manifest, holders, chainDeals);
      log(formatEvent({ received: 0, paid: 0n, event: "ClientEventOpen", status: "DealStatusNew", detail: droot }));
      const request = { retrievalId, manifest, holders, workDir, onEvent: log };
      const { run, decodedPieces } = await this.fetchAndWrite(request, range, sink, options);
      const result = this.result(run, { retrievalId, droot, range, outPath, manifest, decodedPieces, events });
      log(
        formatEvent({
          received: result.bytesWritten,
          paid: result.paid,
          event: "ClientEventComplete",
          status: "DealStatusCompleted",
        }),
      );
      ledger.finish(retrievalId, "completed");
      return result;
    } catch (err) {
      await sink.abort();
      const message = (err as Error).message.split("\n")[0];
      const paid = ledger.paidForRange(retrievalId);
      log(formatEvent({ received: 0, paid, event: "ClientEventError", status: "DealStatusErrored", detail: message }));
      ledger.finish(retrievalId, "failed", message);
      throw err;
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  }

  /**
   * Runs the fetches and the writer side by side; a writer that fails (a closed pipe) stops the
   * fetches. @returns The run and the data pieces decoded.
   */
  private async fetchAndWrite(
    request: Omit<RangeFetchRequest, "dataSpans" | "options">,
    range: ByteRange,
    sink: ByteSink,
    options: FileRetrieveOptions,
  ): Promise<{ run: RangeFetchRun; decodedPieces: number[] }> {
    const { manifest } = request;
    const stop = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
    const run = new RangeFetchRun(this.deps.ledger, this.fetcher, {
      ...request,
      dataSpans: dataSpans(manifest.k, manifest.shareSize, range),
      options: { ...options, signal },
    });
    const total = range.end - range.start + 1;
    const fetching = run.run();
    // Its failure also reaches the writer; this keeps it from counting as unhandled meanwhile.
    fetching.catch(() => undefined);
    try {
      const decodedPieces = await writeRange(run, {
        manifest,
        range,
        pool: this.deps.pool,
        sink,
        onWritten: (written) => options.onProgress?.(written, total, { providers: run.running }),
      });
      await fetching;
      await sink.commit();
      return { run, decodedPieces };
    } catch (err) {
      stop.abort();
      await fetching.catch(() => undefined);
      throw err;
    }
  }

  private result(
    run: RangeFetchRun,
    r: Pick<RangeRetrievalResult, "retrievalId" | "droot" | "range" | "outPath" | "decodedPieces" | "events"> & {
      manifest: Manifest;
    },
  ): RangeRetrievalResult {
    const { ledger } = this.deps;
    const rows = ledger.rangeFetches(r.retrievalId);
    const fetches = run.fetches.map((f) => {
      const row = rows.find(
        (x) => x.retrievalId === f.fetchId && x.pieceIndex === f.pieceIndex && x.provider === f.provider,
      );
      return {
        pieceIndex: f.pieceIndex,
        provider: f.provider,
        start: f.start,
        end: f.end,
        status: f.status,
        pricePerByte: row?.pricePerByte ?? 0n,
        paid: row ? ledger.paidOn([row]) : 0n,
      };
    });
    return {
      retrievalId: r.retrievalId,
      droot: r.droot,
      range: r.range,
      outPath: r.outPath,
      fileSize: r.manifest.fileSize,
      bytesWritten: r.range.end - r.range.start + 1,
      bytesFetched: fetches.filter((f) => f.status === "verified").reduce((s, f) => s + (f.end - f.start), 0),
      paid: ledger.paidOn(rows),
      fetches,
      decodedPieces: r.decodedPieces,
      corruptProviders: run.corruptProviders,
      failedProviders: run.failedProviders,
      events: r.events,
    };
  }
}
