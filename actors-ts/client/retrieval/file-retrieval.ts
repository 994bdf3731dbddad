import type { Address, Hex } from "viem";
import { RepairMarketError } from "../../core/errors";
import type { Logger } from "../../core/logger";
import type { ChainClients } from "../../chain/clients";
import type { MarketContracts } from "../../chain/contracts";
import type { RegisteredProvider } from "../../chain/registry/reads";
import type { ErasurePool } from "../../erasure/erasure-pool";
import type { Manifest } from "../../manifest/manifest";
import type { ClientStore } from "../client-store";
import type { RetrievalLedger } from "./retrieval-ledger";
import type { ByteSink } from "../../core/byte-sink";

/**
 * The shapes of a whole-file retrieval (seed 001's RetrievalRequest over an erasure-coded file):
 * what it is asked, what it reports, its errors, and the check that runs before anything is paid.
 * {@link FileRetriever} (file-retriever.ts) does the work.
 */

/** Fewer than k pieces could be fetched and verified. */
export class NotEnoughPiecesError extends RepairMarketError {
  override name = "NotEnoughPiecesError" as const;
}

/** No manifest for the droot could be found and verified. */
export class ManifestNotFoundError extends RepairMarketError {
  override name = "ManifestNotFoundError" as const;
}

/** What the chain says of one repair deal for the file (for errors that explain themselves). */
export interface ChainDealNote {
  dealId: bigint;
  /** RepairDealState name: Placing, Active, Lost, Completed, … */
  state: string;
  /** Pieces whose loss is reported on chain. */
  lostPieces: number[];
}

/**
 * Throws before anything is paid when fewer than k of the file's pieces have any candidate
 * holder (on chain, in the client's own deals, or found by probing).
 *
 * @throws NotEnoughPiecesError naming the repair deals' on-chain state and each piece's holders.
 */
export function assertEnoughHolders(
  droot: Hex,
  manifest: Manifest,
  holders: Map<number, RegisteredProvider[]>,
  chainDeals: ChainDealNote[],
): void {
  const held = manifest.pieces.map((_, i) => (holders.get(i) ?? []).length > 0);
  const available = held.filter(Boolean).length;
  if (available >= manifest.k) return;
  const dealText =
    chainDeals.length === 0
      ? "no repair deal on chain"
      : chainDeals
          .map(
            (d) =>
              `repair deal ${d.dealId} is ${d.state}` +
              (d.lostPieces.length > 0 ? ` (pieces ${d.lostPieces.join(", ")} reported lost)` : ""),
          )
          .join("; ");
  throw new NotEnoughPiecesError(
    `only ${available} of the file's ${manifest.pieces.length} pieces have a holder; k = ${manifest.k} are needed, so nothing was fetched or paid`,
    {
      details: {
        droot,
        k: manifest.k,
        available,
        chain: dealText,
        holders: manifest.pieces
          .map(
            (_, i) => `piece ${i}: ${held[i] ? (holders.get(i) ?? []).map((p) => p.address).join(", ") : "no holder"}`,
          )
          .join("; "),
      },
    },
  );
}

/** What a whole-file retrieval did. */
export interface FileRetrievalResult {
  retrievalId: string;
  droot: Hex;
  outPath: string;
  fileSize: number;
  /** Token base units paid over all piece fetches. */
  paid: bigint;
  piecesUsed: { pieceIndex: number; provider: Address }[];
  /** Providers whose bytes did not match the commitment, with the evidence. */
  corruptProviders: CorruptPiece[];
  /** Providers that failed otherwise (unreachable, refused, stalled). */
  failedProviders: { provider: Address; pieceIndex: number; error: string }[];
  events: string[];
}

/** A provider served bytes of a piece that do not match its commitment (seed 003's evidence). */
export interface CorruptPiece {
  provider: Address;
  pieceIndex: number;
  /** The 0x root the piece commits to, or of the chunk that failed (`chunk` set). */
  expected: string;
  /** The 0x root the served bytes hash to. */
  actual: string;
  /** Index of the chunk whose root did not match, when the check was per chunk. */
  chunk?: number;
}

/**
 * The evidence a {@link PieceCommitmentMismatchError} carries, as a {@link CorruptPiece}.
 *
 * @param root The piece's commitment, shown when the error names no expected root.
 */
export function corruptPieceOf(err: RepairMarketError, provider: Address, pieceIndex: number, root: Hex): CorruptPiece {
  const d = err.details;
  return {
    provider,
    pieceIndex,
    expected: String(d.expected ?? root),
    // A malformed chunk-root list or proof has no root of its own to show.
    actual: d.actual === undefined ? "unreadable" : String(d.actual),
    ...(typeof d.chunk === "number" ? { chunk: d.chunk } : {}),
  };
}

/** One line of evidence: "chunk 3: expected 0x…, got 0x…". */
export function describeCorrupt(c: CorruptPiece): string {
  return `${c.chunk === undefined ? "" : `chunk ${c.chunk}: `}expected ${c.expected}, got ${c.actual}`;
}

/** What {@link FileRetriever.fetchPieces} is asked to do. */
export interface PieceFetchRequest {
  /** The retrieval's id in the ledger: verified fetches recorded under it are reused. */
  retrievalId: string;
  manifest: Manifest;
  /** Candidate providers per piece index, in preference order. */
  holders: Map<number, RegisteredProvider[]>;
  /** Where piece downloads are written. */
  workDir: string;
  options: FileRetrieveOptions;
  /** Receives every retrieval event line (seed 001's event names). */
  onEvent: (line: string) => void;
  /** Receives each corrupt piece as soon as it is found (before the fetch moves on). */
  onCorrupt?: (corrupt: CorruptPiece) => void;
  /**
   * Bytes [0, verifiedTo) of piece `index`, in the payload file `path`, are on disk and match
   * its commitment (also for a piece an earlier run verified, and a resumed fetch's prefix).
   */
  onVerified?: (index: number, path: string, verifiedTo: number) => void;
  /**
   * Called once when every known (piece, holder) pair was tried and fewer than k pieces are
   * verified: may add holders to `holders` (probing the registry) and resolves true if it did.
   */
  findMoreHolders?: () => Promise<boolean>;
}

/** What {@link FileRetriever.fetchPieces} got: the k verified pieces and every failure met. */
export interface FetchedPieces {
  /** Paths of the verified pieces by index (undefined for the others). */
  paths: (string | undefined)[];
  piecesUsed: FileRetrievalResult["piecesUsed"];
  corruptProviders: CorruptPiece[];
  failedProviders: FileRetrievalResult["failedProviders"];
}

export interface FileRetrieverDeps {
  clients: ChainClients;
  contracts: MarketContracts;
  store: ClientStore;
  ledger: RetrievalLedger;
  pool: ErasurePool;
  logger: Logger;
  /** Where piece downloads are kept until the file is rebuilt. */
  workDir: string;
}

/** What a progress callback is told besides the byte counts. */
export interface RetrievalProgressInfo {
  /** Piece fetches running now (one provider each). */
  providers: number;
}

export interface FileRetrieveOptions {
  /** Cap on each piece download, bytes per second. */
  maxBytesPerSecond?: number;
  /** No bytes for this long replaces a provider (ms, default 20 s). */
  stallTimeoutMs?: number;
  onEvent?: (line: string) => void;
  /**
   * Bytes so far of `total`: for a whole file the piece bytes received of the k pieces' payload,
   * for a byte range the range's bytes written.
   */
  onProgress?: (received: number, total: number, info: RetrievalProgressInfo) => void;
  /**
   * Write the file here, in file order, instead of atomically to the out path (which then only
   * names the retrieval in the ledger): e.g. `streamSink(process.stdout)`.
   */
  output?: ByteSink;
  /** Called with every batch of bytes downloaded (verified or not). */
  onBytes?: (bytes: number) => void;
  /** Piece indices in the order to try them (default: data pieces first). */
  order?: number[];
  signal?: AbortSignal;
}
