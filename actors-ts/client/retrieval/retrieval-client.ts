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
import { PieceFetcher, formatEvent } from "./piece-fetcher";
import { RetrievalLedger } from "./retrieval-ledger";
import { InvalidArgumentError } from "../../core/errors";

export interface RetrievalClientDeps {
  clients: ChainClients;
  contracts: MarketContracts;
  store: ClientStore;
  logger: Logger;
  /** Needed for whole files (decoding); not for single pieces. */
  pool?: ErasurePool;
  /** Directory for downloads in progress. */
  workDir: string;
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

  /** Whole-file retrieval by droot (see {@link FileRetriever}). */
  async retrieveFile(droot: Hex, outPath: string, options?: FileRetrieveOptions): Promise<FileRetrievalResult> {
    if (!this.deps.pool) throw new InvalidArgumentError("RetrievalClient needs an ErasurePool to rebuild files");
    const retriever = new FileRetriever({ ...this.deps, pool: this.deps.pool, ledger: this.ledger });
    return retriever.retrieve(droot, outPath, options);
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
