import { join } from "node:path";
import type { Address } from "viem";
import type { RegisteredProvider } from "../../chain/registry/reads";
import { InvalidStateError } from "../../core/errors";
import type { Manifest } from "../../manifest/manifest";
import {
  NotEnoughPiecesError,
  corruptPieceOf,
  describeCorrupt,
  type CorruptPiece,
  type FileRetrievalResult,
  type FileRetrieveOptions,
} from "./file-retrieval";
import { PieceCommitmentMismatchError, formatEvent, type PieceFetcher, type RetrievalEvent } from "./piece-fetcher";
import { missingSpans } from "./range-plan";
import type { RetrievalLedger } from "./retrieval-ledger";
import { quadSpan, type PieceSpan } from "./span-verifier";

/** What a {@link RangeFetchRun} is asked to fetch. */
export interface RangeFetchRequest {
  /** The range retrieval's id: each span's fetch is recorded as `<id>@<span start>`. */
  retrievalId: string;
  manifest: Manifest;
  /** Candidate providers per piece index, in preference order. */
  holders: Map<number, RegisteredProvider[]>;
  /** Per data piece, the payload bytes the range needs from it (undefined: none). */
  dataSpans: (PieceSpan | undefined)[];
  /** Where span downloads are written (sparse files, at their payload offsets). */
  workDir: string;
  options: FileRetrieveOptions;
  /** Receives every retrieval event line. */
  onEvent: (line: string) => void;
}

/** One span fetched (or being fetched) from one provider. */
export interface SpanFetch {
  pieceIndex: number;
  provider: Address;
  /** The ledger id it is recorded under. */
  fetchId: string;
  /** Payload bytes [start, end) of the piece, quad-aligned. */
  start: number;
  end: number;
  /** Payload offset up to which the bytes are checked against the commitment and on disk. */
  verifiedTo: number;
  /** File holding the span's bytes at their payload offsets. */
  path: string;
  status: "running" | "verified" | "failed";
}

/** A planned fetch: a span of a piece and the holder to ask. */
interface PlannedFetch {
  index: number;
  span: PieceSpan;
  provider: RegisteredProvider;
}

/**
 * The fetching half of a byte-range retrieval. In rounds: each data piece's span from its first
 * holder that has not failed; when every holder of a data piece has failed (unreachable, refused,
 * stalled, or caught serving bytes that do not match the commitment — named in
 * `corruptProviders`), the same payload bytes of any k other live pieces, from which the writer
 * decodes them (Reed–Solomon works byte by byte across a stripe's shares, so the same offsets of
 * k pieces are enough; a Clay share's bytes depend on every sub-chunk plane of its stripe, so for
 * a Clay file the span is widened to the whole stripes' shares). Bytes verified by an earlier fetch, even a failed one, are never fetched
 * again; every fetch pays for its span only. The writer follows {@link covering} and
 * {@link changed}.
 */
export class RangeFetchRun {
  readonly fetches: SpanFetch[] = [];
  readonly corruptProviders: CorruptPiece[] = [];
  readonly failedProviders: FileRetrievalResult["failedProviders"] = [];
  /** Fetches running now. */
  running = 0;
  private readonly failedHolders = new Set<string>();
  private waiters: (() => void)[] = [];
  private finished = false;
  private error: unknown;

  constructor(
    private readonly ledger: RetrievalLedger,
    private readonly fetcher: PieceFetcher,
    private readonly request: RangeFetchRequest,
  ) {}

  /**
   * Fetches until every byte the range needs is verified, directly or as k pieces to decode it from.
   *
   * @throws NotEnoughPiecesError listing every failure, once fewer than k live pieces remain.
   */
  async run(): Promise<void> {
    try {
      for (let plan = this.plan(); plan.length > 0; plan = this.plan()) {
        this.request.options.signal?.throwIfAborted();
        await Promise.all(plan.map((f) => this.fetchSpan(f)));
      }
      this.finished = true;
    } catch (err) {
      this.error = err;
      throw err;
    } finally {
      this.notify();
    }
  }

  /** A verified run of piece `index`'s bytes starting at `at`: its file and where it ends. */
  covering(index: number, at: number): { path: string; upTo: number } | undefined {
    const found = this.fetches.find((f) => f.pieceIndex === index && f.start <= at && at < f.verifiedTo);
    return found ? { path: found.path, upTo: found.verifiedTo } : undefined;
  }

  /** True when every holder of piece `index` has failed: its bytes must be decoded. */
  isDead(index: number): boolean {
    const holders = this.request.holders.get(index) ?? [];
    return holders.every((p) => this.failedHolders.has(holderKey(index, p.address)));
  }

  /**
   * Resolves at the next change (bytes verified, a fetch ended, the run ended).
   *
   * @throws the run's error once it failed; InvalidStateError once it finished (nothing will change).
   */
  changed(): Promise<void> {
    if (this.error !== undefined) return Promise.reject(this.error);
    if (this.finished) {
      return Promise.reject(new InvalidStateError("range bytes are missing after every fetch finished"));
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The fetches this round needs: every needed span not yet verified, from a holder not failed. */
  private plan(): PlannedFetch[] {
    const { manifest, dataSpans } = this.request;
    const needs = new Map<number, PieceSpan[]>();
    const need = (index: number, span: PieceSpan): void => {
      needs.set(index, [
        ...(needs.get(index) ?? []),
        quadSpan(manifest.pieces[index].payloadSize, span.start, span.end),
      ]);
    };
    const decode: PieceSpan[] = [];
    dataSpans.forEach((span, index) => {
      if (span && this.isDead(index)) decode.push(decodeSpan(manifest, span));
      else if (span) need(index, span);
    });
    if (decode.length > 0) {
      const live = manifest.pieces.map((_, i) => i).filter((i) => !this.isDead(i));
      if (live.length < manifest.k) throw this.notEnough();
      for (const index of live.slice(0, manifest.k)) for (const span of decode) need(index, span);
    }
    const plan: PlannedFetch[] = [];
    for (const [index, wanted] of needs) {
      const have = this.fetches
        .filter((f) => f.pieceIndex === index)
        .map((f) => ({ start: f.start, end: f.verifiedTo }));
      const provider = (this.request.holders.get(index) ?? []).find(
        (p) => !this.failedHolders.has(holderKey(index, p.address)),
      );
      for (const span of missingSpans(wanted, have)) if (provider) plan.push({ index, span, provider });
    }
    return plan;
  }

  /** Fetches one span; a failure is recorded (evidence for a corrupt one) and its holder not asked again. */
  private async fetchSpan({ index, span, provider }: PlannedFetch): Promise<void> {
    const { retrievalId, manifest, workDir, options, onEvent: log } = this.request;
    const piece = manifest.pieces[index];
    const fetch: SpanFetch = {
      pieceIndex: index,
      provider: provider.address,
      fetchId: `${retrievalId}@${span.start}`,
      start: span.start,
      end: span.end,
      verifiedTo: span.start,
      path: join(workDir, `piece-${index}-${span.start}-${provider.address}`),
      status: "running",
    };
    const context = `[piece ${index} bytes ${span.start}-${span.end - 1}, provider ${provider.address}]`;
    this.fetches.push(fetch);
    this.running++;
    try {
      const target = { provider, pieceIndex: index, pieceCid: piece.pieceCid, root: piece.root, span };
      await this.fetcher.fetch(fetch.fetchId, { ...target, payloadSize: piece.payloadSize }, fetch.path, {
        stallTimeoutMs: options.stallTimeoutMs ?? 20_000,
        maxBytesPerSecond: options.maxBytesPerSecond,
        signal: options.signal,
        onEvent: (e: RetrievalEvent) => log(`${formatEvent(e)} ${context}`),
        onBytes: options.onBytes,
        onVerified: (verifiedTo) => {
          fetch.verifiedTo = verifiedTo;
          this.notify();
        },
      });
      fetch.status = "verified";
    } catch (err) {
      fetch.status = "failed";
      this.failedHolders.add(holderKey(index, provider.address));
      this.recordFailure(err as Error, fetch, context);
    } finally {
      this.running--;
      this.notify();
    }
  }

  private recordFailure(err: Error, fetch: SpanFetch, context: string): void {
    const piece = this.request.manifest.pieces[fetch.pieceIndex];
    const message = err.message.split("\n")[0];
    if (err instanceof PieceCommitmentMismatchError) {
      this.corruptProviders.push(corruptPieceOf(err, fetch.provider, fetch.pieceIndex, piece.root));
    } else {
      this.failedProviders.push({ provider: fetch.provider, pieceIndex: fetch.pieceIndex, error: message });
    }
    const row = this.ledger.fetch(fetch.fetchId, fetch.pieceIndex, fetch.provider);
    if (row) this.ledger.upsertFetch({ ...row, status: "failed", error: message });
    this.request.onEvent(
      `${formatEvent({ received: 0, paid: 0n, event: "ClientEventDataTransferError", status: "DealStatusErrored", detail: message })} ${context}`,
    );
  }

  private notEnough(): NotEnoughPiecesError {
    const { manifest } = this.request;
    return new NotEnoughPiecesError("fewer than k pieces could serve the range", {
      details: {
        k: manifest.k,
        live: manifest.pieces.filter((_, i) => !this.isDead(i)).length,
        failures: [
          ...this.corruptProviders.map((c) => `${c.provider} piece ${c.pieceIndex}: corrupt (${describeCorrupt(c)})`),
          ...this.failedProviders.map((f) => `${f.provider} piece ${f.pieceIndex}: ${f.error}`),
          ...manifest.pieces
            .map((_, i) => i)
            .filter((i) => (this.request.holders.get(i) ?? []).length === 0)
            .map((i) => `piece ${i}: no holder`),
        ].join("; "),
      },
    });
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

function holderKey(index: number, provider: Address): string {
  return `${index}:${provider.toLowerCase()}`;
}

/**
 * The bytes of the other pieces that rebuild `span` of a dead data piece: the same bytes for
 * Reed–Solomon, the whole stripes' shares for Clay (a Clay decode needs every sub-chunk plane).
 */
export function decodeSpan(manifest: Pick<Manifest, "coding" | "shareSize">, span: PieceSpan): PieceSpan {
  if (!manifest.coding) return span;
  const { shareSize } = manifest;
  return { start: Math.floor(span.start / shareSize) * shareSize, end: Math.ceil(span.end / shareSize) * shareSize };
}
