import { mkdir, rm } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { join, resolve } from "node:path";
import type { Hex } from "viem";
import { fileSink } from "../../core/byte-sink";
import { VerifiedPieces, decodeWhileVerified } from "../../manifest/stream-decode";
import { PieceFetcher, formatEvent } from "./piece-fetcher";
import { PieceFetchRun } from "./piece-fetch-run";
import {
  NotEnoughPiecesError,
  assertEnoughHolders,
  type ChainDealNote,
  type FetchedPieces,
  type FileRetrievalResult,
  type FileRetrieveOptions,
  type FileRetrieverDeps,
  type PieceFetchRequest,
} from "./file-retrieval";
import { FileSources } from "./file-sources";

/**
 * Seed 001's RetrievalRequest for a whole file: reads the manifest, finds who holds each piece
 * (repair deals on chain, the client's own deals), fetches k pieces in parallel through paid
 * retrieval — the first k that verify win; a slow, failing or lying provider is replaced by the
 * next holder, not waited for — then rebuilds the file, checks its SHA-256 and writes it
 * atomically (or, given `options.output`, in file order to that sink). The retrieval is
 * persisted: a rerun resumes it, and pays nothing twice.
 */
export class FileRetriever {
  private readonly fetcher: PieceFetcher;
  private readonly sources: FileSources;

  constructor(private readonly deps: FileRetrieverDeps) {
    this.fetcher = new PieceFetcher(deps);
    this.sources = new FileSources(deps);
  }

  /**
   * @throws ManifestNotFoundError, NotEnoughPiecesError (with every provider's failure),
   * FileHashMismatchError.
   */
  async retrieve(droot: Hex, outPath: string, options: FileRetrieveOptions = {}): Promise<FileRetrievalResult> {
    const { ledger } = this.deps;
    const out = resolve(outPath);
    const existing = ledger.findResumable("file", droot, out);
    const retrievalId = existing?.id ?? randomBytes(8).toString("hex");
    if (!existing) ledger.create({ id: retrievalId, kind: "file", target: droot, outPath: out });
    const events: string[] = [...(existing?.events ?? [])];
    const log = (line: string) => {
      events.push(line);
      ledger.appendEvent(retrievalId, line);
      options.onEvent?.(line);
    };
    const workDir = join(this.deps.workDir, retrievalId);
    await mkdir(workDir, { recursive: true });
    const result: FileRetrievalResult = {
      retrievalId,
      droot,
      outPath: out,
      fileSize: 0,
      paid: 0n,
      piecesUsed: [],
      corruptProviders: [],
      failedProviders: [],
      events,
    };
    const chainDeals: ChainDealNote[] = [];
    try {
      const holders = await this.sources.holders(droot, chainDeals);
      const manifest = await this.sources.manifest(droot, holders);
      // Every piece with a known holder (the usual case): the registry is probed only if those
      // holders fail, not before the first byte (it cost 55–160 ms of a warm 64 MiB retrieval).
      const allHeld = manifest.pieces.every((_, i) => (holders.get(i) ?? []).length > 0);
      if (!allHeld) await this.sources.probeHolders(manifest, holders);
      // Pay nothing for a file that cannot be rebuilt: with fewer than k pieces held by anyone,
      // every paid byte would be wasted.
      assertEnoughHolders(droot, manifest, holders, chainDeals);
      result.fileSize = manifest.fileSize;
      log(
        formatEvent({
          received: 0,
          paid: 0n,
          event: "ClientEventOpen",
          status: "DealStatusNew",
          detail: `droot ${droot}`,
        }),
      );
      const fetched = await this.fetchAndDecode(
        { retrievalId, manifest, holders, workDir, options, onEvent: log },
        out,
        allHeld,
      );
      result.piecesUsed = fetched.piecesUsed;
      result.corruptProviders = fetched.corruptProviders;
      result.failedProviders = fetched.failedProviders;
      result.paid = ledger.paidFor(retrievalId);
      log(
        formatEvent({
          received: manifest.fileSize,
          paid: result.paid,
          event: "ClientEventComplete",
          status: "DealStatusCompleted",
        }),
      );
      ledger.finish(retrievalId, "completed");
      await rm(workDir, { recursive: true, force: true });
      return result;
    } catch (err) {
      result.paid = ledger.paidFor(retrievalId);
      throw this.failed(err, retrievalId, result.paid, chainDeals, log);
    }
  }

  /**
   * Fetches k pieces and rebuilds the file into the output at the same time: each batch of
   * stripes is written as soon as k pieces are verified past it ({@link decodeWhileVerified}), so
   * a stream gets its first bytes while the pieces are still coming and decoding overlaps the
   * transfer. A file output is committed only once the SHA-256 matches; a stream output is
   * committed (its errors surfaced) then. If writing fails (a closed pipe), the fetches are
   * stopped rather than paid to the end. With `probeLater`, the registry is probed for more
   * holders only once the known ones are exhausted.
   */
  private async fetchAndDecode(request: PieceFetchRequest, out: string, probeLater: boolean): Promise<FetchedPieces> {
    const { manifest, holders, options } = request;
    const sink = options.output ?? (await fileSink(out));
    const verified = new VerifiedPieces(manifest.k + manifest.m);
    const stop = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
    // Settles to the decoder's error (or undefined), so it is never an unhandled rejection while
    // the fetches run; a failed decode stops the fetches.
    const decoding = decodeWhileVerified(manifest, verified, sink, this.deps.pool).then(
      () => undefined,
      (err: unknown) => {
        stop.abort(err);
        return { err };
      },
    );
    try {
      const fetched = await this.fetchPieces({
        ...request,
        options: { ...options, signal },
        onVerified: (index, path, verifiedTo) => verified.mark(index, path, verifiedTo),
        findMoreHolders: probeLater ? () => this.sources.probeHolders(manifest, holders) : undefined,
      }).then(
        (f) => {
          verified.end();
          return f;
        },
        (err: unknown) => {
          verified.end(err);
          throw err;
        },
      );
      const failed = await decoding;
      if (failed) throw failed.err;
      await sink.commit();
      return fetched;
    } catch (err) {
      // A failed write is the cause; the fetches' abort that followed it is not.
      const failed = await decoding;
      await sink.abort();
      throw failed ? failed.err : err;
    }
  }

  /**
   * Ends a failed retrieval: logs the error event, marks the retrieval failed when too few pieces
   * could be had, and returns the error to throw — for that case with what the chain says of the
   * file's repair deals added (a failure next to "Lost on chain" explains itself).
   */
  private failed(
    err: unknown,
    retrievalId: string,
    paid: bigint,
    chainDeals: ChainDealNote[],
    log: (line: string) => void,
  ): unknown {
    log(
      formatEvent({
        received: 0,
        paid,
        event: "ClientEventError",
        status: "DealStatusErrored",
        detail: (err as Error).message.split("\n")[0],
      }),
    );
    if (!(err instanceof NotEnoughPiecesError)) return err;
    this.deps.ledger.finish(retrievalId, "failed", err.message);
    if (chainDeals.length === 0 || err.details.chain !== undefined) return err;
    return new NotEnoughPiecesError(err.shortMessage, {
      details: {
        ...err.details,
        chain: chainDeals.map((d) => `repair deal ${d.dealId} is ${d.state}`).join("; "),
      },
      cause: err.cause,
    });
  }

  /**
   * Runs paid piece fetches until k pieces are verified (seed 003: download exactly k; a piece
   * whose bytes do not match its commitment is reported to `onCorrupt` and in the answer, and
   * another holder or piece is tried, keeping the good ones). Verified fetches recorded under
   * `retrievalId` by an earlier run are reused.
   *
   * @throws NotEnoughPiecesError listing every failure.
   */
  async fetchPieces(request: PieceFetchRequest): Promise<FetchedPieces> {
    return new PieceFetchRun(this.deps.ledger, this.fetcher, request).run();
  }
}
