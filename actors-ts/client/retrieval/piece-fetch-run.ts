import { stat } from "node:fs/promises";
import { join } from "node:path";
import type { RegisteredProvider } from "../../chain/registry/reads";
import type { RetrievalLedger } from "./retrieval-ledger";
import { PieceCommitmentMismatchError, formatEvent, type PieceFetcher, type RetrievalEvent } from "./piece-fetcher";
import {
  NotEnoughPiecesError,
  corruptPieceOf,
  describeCorrupt,
  type FetchedPieces,
  type PieceFetchRequest,
} from "./file-retrieval";

/**
 * One run of paid piece fetches for a file until k pieces verify (seed 003: download exactly k).
 * Pieces are tried in `options.order` (data pieces first, so no decoding is needed), each from
 * its holders in preference order; at most k fetches run at once, and a failed or lying holder
 * is replaced by the next (index, holder) pair not yet tried. A piece whose bytes do not match
 * its commitment is reported to `onCorrupt` and in the answer; the good pieces are kept.
 * Verified fetches an earlier run recorded under the same retrieval id are reused.
 */
export class PieceFetchRun {
  private readonly result: Omit<FetchedPieces, "paths"> = { piecesUsed: [], corruptProviders: [], failedProviders: [] };
  private readonly paths: (string | undefined)[];
  private readonly done = new Set<number>();
  private readonly tried = new Set<string>();
  private readonly running = new Map<number, Promise<void>>();
  /** Payload bytes received so far (verified pieces of earlier runs included), for progress. */
  private received = 0;

  private readonly request: PieceFetchRequest;

  constructor(
    private readonly ledger: RetrievalLedger,
    private readonly fetcher: PieceFetcher,
    request: PieceFetchRequest,
  ) {
    this.request = { ...request };
    this.paths = Array.from({ length: request.manifest.k + request.manifest.m }, () => undefined);
  }

  /**
   * Fetches until k pieces are verified.
   *
   * @throws NotEnoughPiecesError listing every failure, once no untried holder is left.
   */
  async run(): Promise<FetchedPieces> {
    const { k } = this.request.manifest;
    await this.reuseVerified();
    this.received = this.done.size * this.request.manifest.pieces[0].payloadSize;
    while (this.done.size < k) {
      while (this.done.size + this.running.size < k) {
        const candidate = this.next();
        if (!candidate) break;
        this.start(candidate.index, candidate.provider);
      }
      if (this.running.size === 0) {
        const more = this.request.findMoreHolders;
        this.request.findMoreHolders = undefined; // once
        if (more && (await more())) continue;
        throw this.notEnough();
      }
      await Promise.race(this.running.values());
    }
    // Fetches beyond k (none are started) — wait for stragglers that already finished.
    await Promise.allSettled(this.running.values());
    return { paths: this.paths, ...this.result };
  }

  /** Takes the pieces an earlier run verified whose files are still whole. */
  private async reuseVerified(): Promise<void> {
    const { retrievalId, manifest } = this.request;
    for (const f of this.ledger.fetches(retrievalId)) {
      const size = (await stat(f.tempPath).catch(() => undefined))?.size;
      if (f.status === "verified" && size === manifest.pieces[f.pieceIndex].payloadSize) {
        this.done.add(f.pieceIndex);
        this.paths[f.pieceIndex] = f.tempPath;
        this.request.onVerified?.(f.pieceIndex, f.tempPath, size);
        this.result.piecesUsed.push({ pieceIndex: f.pieceIndex, provider: f.provider });
      }
    }
  }

  /** The next (piece, holder) pair to try: first piece in order not done or running, first untried holder. */
  private next(): { index: number; provider: RegisteredProvider } | undefined {
    const { manifest, holders, options } = this.request;
    const order = options.order ?? Array.from({ length: manifest.k + manifest.m }, (_, i) => i);
    for (const index of order) {
      if (this.done.has(index) || this.running.has(index)) continue;
      const provider = (holders.get(index) ?? []).find((p) => !this.tried.has(`${index}:${p.address}`));
      if (provider) return { index, provider };
    }
    return undefined;
  }

  private start(index: number, provider: RegisteredProvider): void {
    const { retrievalId, manifest, workDir, options, onEvent: log } = this.request;
    this.tried.add(`${index}:${provider.address}`);
    const piece = manifest.pieces[index];
    const total = manifest.k * manifest.pieces[0].payloadSize;
    const tempPath = join(workDir, `piece-${index}-${provider.address}`);
    const context = `[piece ${index}, provider ${provider.address}]`;
    const target = {
      provider,
      pieceIndex: index,
      pieceCid: piece.pieceCid,
      root: piece.root,
      payloadSize: piece.payloadSize,
    };
    const task = this.fetcher
      .fetch(retrievalId, target, tempPath, {
        stallTimeoutMs: options.stallTimeoutMs ?? 20_000,
        maxBytesPerSecond: options.maxBytesPerSecond,
        signal: options.signal,
        onEvent: (e: RetrievalEvent) => log(`${formatEvent(e)} ${context}`),
        onVerified: (verifiedTo) => this.request.onVerified?.(index, tempPath, verifiedTo),
        onBytes: (bytes) => {
          options.onBytes?.(bytes);
          this.received += bytes;
          options.onProgress?.(Math.min(this.received, total), total, { providers: this.running.size });
        },
      })
      .then(
        () => {
          this.done.add(index);
          this.paths[index] = tempPath;
          this.result.piecesUsed.push({ pieceIndex: index, provider: provider.address });
        },
        (err: Error) => this.failed(err, index, provider, tempPath, context),
      )
      .finally(() => this.running.delete(index));
    this.running.set(index, task);
  }

  /** Records a failed fetch: corrupt bytes as evidence, anything else as a failure, in the ledger too. */
  private failed(err: Error, index: number, provider: RegisteredProvider, tempPath: string, context: string): void {
    const { retrievalId, manifest, onEvent: log } = this.request;
    const piece = manifest.pieces[index];
    const message = err.message.split("\n")[0];
    if (err instanceof PieceCommitmentMismatchError) {
      const corrupt = corruptPieceOf(err, provider.address, index, piece.root);
      this.result.corruptProviders.push(corrupt);
      this.request.onCorrupt?.(corrupt);
    } else {
      this.result.failedProviders.push({ provider: provider.address, pieceIndex: index, error: message });
    }
    this.ledger.upsertFetch({
      ...(this.ledger.fetch(retrievalId, index, provider.address) ?? {
        retrievalId,
        pieceIndex: index,
        provider: provider.address,
        pieceCid: piece.pieceCid,
        startOffset: 0,
        endOffset: piece.payloadSize,
        pricePerByte: 0n,
        verifiedBytes: 0,
        tempPath,
      }),
      status: "failed",
      error: message,
    });
    log(
      `${formatEvent({ received: 0, paid: 0n, event: "ClientEventDataTransferError", status: "DealStatusErrored", detail: message })} ${context}`,
    );
  }

  private notEnough(): NotEnoughPiecesError {
    const { manifest, holders } = this.request;
    return new NotEnoughPiecesError("fewer than k pieces could be retrieved and verified", {
      details: {
        k: manifest.k,
        verified: this.done.size,
        failures: [
          ...this.result.corruptProviders.map(
            (c) => `${c.provider} piece ${c.pieceIndex}: corrupt (${describeCorrupt(c)})`,
          ),
          ...this.result.failedProviders.map((f) => `${f.provider} piece ${f.pieceIndex}: ${f.error}`),
          ...manifest.pieces
            .map((_, i) => i)
            .filter((i) => !this.done.has(i) && (holders.get(i) ?? []).length === 0)
            .map((i) => `piece ${i}: no holder`),
        ].join("; "),
      },
    });
  }
}
