import { mkdir, rename, rm } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { join, resolve } from "node:path";
import type { Address, Hex } from "viem";
import { toHex } from "viem";
import type { Logger } from "../../core/logger";
import type { ChainClients } from "../../chain/clients";
import type { MarketContracts } from "../../chain/contracts";
import { getProvider } from "../../chain/registry/reads";
import type { ErasurePool } from "../../erasure/erasure-pool";
import { parsePieceCidV2 } from "../../piece/piece-cid";
import type { ClientStore } from "../client-store";
import { ProviderNotRegisteredError } from "../storage-client";
import type { FileRetrievalResult, FileRetrieveOptions } from "./file-retrieval";
import { FileRetriever } from "./file-retriever";
import { RangeRetriever, type RangeRetrievalResult } from "./range-retriever";
import type { ByteRange } from "./range-plan";
import { fileSink, type ByteSink } from "../../core/byte-sink";
import { PieceFetcher, formatEvent } from "./piece-fetcher";
import { RetrievalLedger, type FetchStatus, type RetrievalRecord } from "./retrieval-ledger";
import { InvalidArgumentError, RepairMarketError } from "../../core/errors";
import type { ClientEvents } from "../client-events";

export interface RetrievalClientDeps {
  clients: ChainClients;
  contracts: MarketContracts;
  store: ClientStore;
  logger: Logger;
  /** Needed for whole files (decoding); not for single pieces. */
  pool?: ErasurePool;
  /** Directory for downloads in progress. */
  workDir: string;
  /** Listener hub every retrieval's event lines are also reported to (`kind: "retrieve"`). */
  events?: ClientEvents;
}

/** No retrieval with this id in the client's database. */
export class RetrievalNotFoundError extends RepairMarketError {
  override name = "RetrievalNotFoundError" as const;
}

/**
 * Seed 001's `GetRetrievalStatus(ClientRef)`: what the client's retrieval ledger knows of one
 * retrieval. Byte counts in bytes, amounts in token base units; `channelId`/`lane` are the
 * PaymentChannels channel and lane the provider was paid on.
 */
export interface RetrievalStatusView {
  id: string;
  kind: RetrievalRecord["kind"];
  /** PieceCID v2 (piece) or droot (file), lower-cased. */
  target: string;
  outPath: string;
  state: RetrievalRecord["status"];
  error?: string;
  /** Verified bytes received, all pieces. */
  bytesReceived: number;
  /** Σ of the vouchers signed for this retrieval's lanes. */
  paid: bigint;
  /** Seed 004 event lines, oldest first. */
  events: string[];
  /** One per (piece, provider) fetched. */
  fetches: {
    pieceIndex: number;
    pieceCid: string;
    provider: Address;
    channelId?: bigint;
    lane?: bigint;
    /** Token base units per byte. */
    pricePerByte: bigint;
    verifiedBytes: number;
    paid: bigint;
    state: FetchStatus;
    error?: string;
  }[];
}

/** A paid single-piece retrieval's outcome. */
export interface PieceRetrievalResult {
  retrievalId: string;
  pieceCid: string;
  provider: Address;
  bytes: number;
  paid: bigint;
  events: string[];
}

/**
 * Seed 001's RetrievalClient: paid retrieval of one piece from one provider, or of a whole file
 * from any k of its pieces. Retrievals are tracked as a whole in the client's database.
 */
export class RetrievalClient {
  readonly ledger: RetrievalLedger;

  constructor(private readonly deps: RetrievalClientDeps) {
    this.ledger = new RetrievalLedger(deps.store.db);
  }

  /**
   * The ledger's view of retrieval `id` (the `retrievalId` of a result or an event).
   *
   * @throws RetrievalNotFoundError when the client has no retrieval with this id.
   */
  getRetrievalStatus(id: string): RetrievalStatusView {
    const record = this.ledger.get(id);
    if (!record) throw new RetrievalNotFoundError("no retrieval with this id", { details: { retrievalId: id } });
    const rows = record.kind === "range" ? this.ledger.rangeFetches(id) : this.ledger.fetches(id);
    const fetches = rows.map((f) => ({
      pieceIndex: f.pieceIndex,
      pieceCid: f.pieceCid,
      provider: f.provider,
      channelId: f.channelId,
      lane: f.lane,
      pricePerByte: f.pricePerByte,
      verifiedBytes: f.verifiedBytes,
      paid: f.channelId !== undefined && f.lane !== undefined ? this.ledger.lane(f.channelId, f.lane).amount : 0n,
      state: f.status,
      error: f.error,
    }));
    return {
      id,
      kind: record.kind,
      target: record.target,
      outPath: record.outPath,
      state: record.status,
      error: record.error,
      bytesReceived: fetches.reduce((s, f) => s + f.verifiedBytes, 0),
      paid: this.ledger.paidOn(rows),
      events: record.events,
      fetches,
    };
  }

  /** Whole-file retrieval by droot (see {@link FileRetriever}). */
  async retrieveFile(droot: Hex, outPath: string, options: FileRetrieveOptions = {}): Promise<FileRetrievalResult> {
    if (!this.deps.pool) throw new InvalidArgumentError("RetrievalClient needs an ErasurePool to rebuild files");
    const retriever = new FileRetriever({ ...this.deps, pool: this.deps.pool, ledger: this.ledger });
    const out = resolve(outPath);
    let retrievalId: string | undefined;
    const onEvent = (line: string): void => {
      // The retriever creates (or resumes) the ledger record before its first event.
      retrievalId ??= this.ledger.findResumable("file", droot, out)?.id;
      if (retrievalId) this.deps.events?.emit({ kind: "retrieve", retrievalId, target: droot, line });
      options.onEvent?.(line);
    };
    return retriever.retrieve(droot, outPath, { ...options, onEvent });
  }

  /**
   * Bytes `range.start` through `range.end` (inclusive) of a file by its droot, paying only for
   * the spans of the pieces that hold them (see {@link RangeRetriever}); written atomically to
   * `out` when it is a path, or in order to a {@link ByteSink} (e.g. `streamSink(process.stdout)`).
   *
   * @param options As for {@link retrieveFile}; `onProgress` counts the range's bytes written.
   * @throws RangeOutsideFileError (before anything is paid), ManifestNotFoundError,
   *   NotEnoughPiecesError, InvalidArgumentError (no ErasurePool).
   * @example
   * const r = await retrieval.retrieveRange(droot, { start: 0, end: 1023 }, "head.bin");
   */
  async retrieveRange(
    droot: Hex,
    range: ByteRange,
    out: string | ByteSink,
    options: FileRetrieveOptions = {},
  ): Promise<RangeRetrievalResult> {
    if (!this.deps.pool) throw new InvalidArgumentError("RetrievalClient needs an ErasurePool to retrieve ranges");
    const retriever = new RangeRetriever({ ...this.deps, pool: this.deps.pool, ledger: this.ledger });
    const outPath = typeof out === "string" ? resolve(out) : "-";
    const sink = typeof out === "string" ? await fileSink(outPath) : out;
    let retrievalId: string | undefined;
    const onEvent = (line: string): void => {
      retrievalId ??= this.ledger.findResumable("range", droot, `${outPath}#${range.start}-${range.end}`)?.id;
      if (retrievalId) this.deps.events?.emit({ kind: "retrieve", retrievalId, target: droot, line });
      options.onEvent?.(line);
    };
    return retriever.retrieve(droot, range, sink, outPath, { ...options, onEvent });
  }

  /**
   * One piece from one provider, paid chunk by chunk, checked against its PieceCID and written
   * atomically to `outPath`. A rerun after a crash resumes it.
   *
   * @param options.onEvent Seed 004 event lines as they happen.
   * @param options.onBytes Bytes received, per batch.
   * @param options.signal Aborts the transfer. @param options.stallTimeoutMs No bytes this long fails it.
   * @throws ProviderNotRegisteredError, PieceCommitmentMismatchError, PeerUnreachableError, PeerRejectedError.
   */
  async retrievePiece(
    pieceCid: string,
    providerAddress: Address,
    outPath: string,
    options: {
      onEvent?: (line: string) => void;
      onBytes?: (bytes: number) => void;
      maxBytesPerSecond?: number;
      signal?: AbortSignal;
      stallTimeoutMs?: number;
    } = {},
  ): Promise<PieceRetrievalResult> {
    const { onEvent, maxBytesPerSecond } = options;
    const { clients, contracts } = this.deps;
    const provider = await getProvider(clients, contracts, providerAddress);
    if (!provider)
      throw new ProviderNotRegisteredError("provider is not registered", { details: { provider: providerAddress } });
    const parts = parsePieceCidV2(pieceCid);
    const out = resolve(outPath);
    const existing = this.ledger.findResumable("piece", pieceCid, out);
    const retrievalId = existing?.id ?? randomBytes(8).toString("hex");
    if (!existing) this.ledger.create({ id: retrievalId, kind: "piece", target: pieceCid, outPath: out });
    const events = [...(existing?.events ?? [])];
    await mkdir(this.deps.workDir, { recursive: true });
    const temp = join(this.deps.workDir, `${retrievalId}.part`);
    const fetcher = new PieceFetcher({ ...this.deps, ledger: this.ledger });
    try {
      const paid = await fetcher.fetch(
        retrievalId,
        { provider, pieceIndex: 0, pieceCid, root: toHex(parts.root), payloadSize: parts.payloadSize },
        temp,
        {
          maxBytesPerSecond,
          onBytes: options.onBytes,
          signal: options.signal,
          stallTimeoutMs: options.stallTimeoutMs,
          onEvent: (e) => {
            const line = formatEvent(e);
            events.push(line);
            this.ledger.appendEvent(retrievalId, line);
            this.deps.events?.emit({ kind: "retrieve", retrievalId, target: pieceCid, line });
            onEvent?.(line);
          },
        },
      );
      await rename(temp, out);
      this.ledger.finish(retrievalId, "completed");
      return { retrievalId, pieceCid, provider: providerAddress, bytes: parts.payloadSize, paid, events };
    } catch (err) {
      if ((err as Error).name === "PieceCommitmentMismatchError") {
        this.ledger.finish(retrievalId, "failed", (err as Error).message);
        await rm(temp, { force: true });
      }
      throw err;
    }
  }
}
