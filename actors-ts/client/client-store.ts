import type { Address, Hex } from "viem";
import { openDatabase, type SqliteDatabase } from "../core/database";
import { stringifyJson } from "../core/json";
import { proposalFromJson, type StorageDealProposal } from "../chain/eip712";

/** A direct storage deal as the client tracks it. */
export interface ClientDealRow {
  proposalHash: Hex;
  provider: Address;
  providerUrl: string;
  dealId?: bigint;
  pieceCid: string;
  root: Hex;
  payloadSize: number;
  paddedSize: number;
  proposal: StorageDealProposal;
  filePath: string;
  status: "proposed" | "published" | "failed";
  reason?: string;
  txHash?: Hex;
  createdAt: number;
}

const MIGRATIONS = [
  `CREATE TABLE deals (
     proposal_hash TEXT PRIMARY KEY,
     provider TEXT NOT NULL,
     provider_url TEXT NOT NULL,
     deal_id TEXT,
     piece_cid TEXT NOT NULL,
     root TEXT NOT NULL,
     payload_size INTEGER NOT NULL,
     padded_size INTEGER NOT NULL,
     proposal_json TEXT NOT NULL,
     file_path TEXT NOT NULL,
     status TEXT NOT NULL,
     reason TEXT,
     tx_hash TEXT,
     created_at INTEGER NOT NULL
   );
   CREATE INDEX deals_piece ON deals(piece_cid);`,
  `CREATE TABLE manifests (droot TEXT PRIMARY KEY, json TEXT NOT NULL);
   CREATE TABLE channels (
     channel_id TEXT PRIMARY KEY,
     provider TEXT NOT NULL,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE lanes (
     channel_id TEXT NOT NULL,
     lane TEXT NOT NULL,
     nonce TEXT NOT NULL,
     amount TEXT NOT NULL,
     PRIMARY KEY (channel_id, lane)
   );
   CREATE TABLE retrievals (
     id TEXT PRIMARY KEY,
     kind TEXT NOT NULL,
     target TEXT NOT NULL,
     out_path TEXT NOT NULL,
     status TEXT NOT NULL,
     events TEXT NOT NULL DEFAULT '[]',
     error TEXT,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   );
   CREATE TABLE piece_fetches (
     retrieval_id TEXT NOT NULL,
     piece_index INTEGER NOT NULL,
     provider TEXT NOT NULL,
     piece_cid TEXT NOT NULL,
     provider_retrieval_id TEXT,
     channel_id TEXT,
     lane TEXT,
     start_offset INTEGER NOT NULL DEFAULT 0,
     end_offset INTEGER NOT NULL DEFAULT 0,
     price_per_byte TEXT NOT NULL DEFAULT '0',
     verified_bytes INTEGER NOT NULL DEFAULT 0,
     status TEXT NOT NULL,
     error TEXT,
     temp_path TEXT NOT NULL,
     PRIMARY KEY (retrieval_id, piece_index, provider)
   );`,
  // Providers' signed acceptances (StorageDealAcceptance), so a client can still publish a deal
  // itself after a restart, when the provider that took the bytes is gone.
  `CREATE TABLE acceptances (proposal_hash TEXT PRIMARY KEY, signature TEXT NOT NULL);`,
];

interface RawDeal {
  proposal_hash: string;
  provider: string;
  provider_url: string;
  deal_id: string | null;
  piece_cid: string;
  root: string;
  payload_size: number;
  padded_size: number;
  proposal_json: string;
  file_path: string;
  status: ClientDealRow["status"];
  reason: string | null;
  tx_hash: string | null;
  created_at: number;
}

function toRow(r: RawDeal): ClientDealRow {
  return {
    proposalHash: r.proposal_hash as Hex,
    provider: r.provider as Address,
    providerUrl: r.provider_url,
    dealId: r.deal_id ? BigInt(r.deal_id) : undefined,
    pieceCid: r.piece_cid,
    root: r.root as Hex,
    payloadSize: r.payload_size,
    paddedSize: r.padded_size,
    proposal: proposalFromJson(JSON.parse(r.proposal_json) as Record<string, string>),
    filePath: r.file_path,
    status: r.status,
    reason: r.reason ?? undefined,
    txHash: (r.tx_hash ?? undefined) as Hex | undefined,
    createdAt: r.created_at,
  };
}

/** The client's persistent record of its deals (SQLite, WAL). */
export class ClientStore {
  readonly db: SqliteDatabase;

  constructor(path: string) {
    this.db = openDatabase(path, MIGRATIONS);
  }

  close(): void {
    this.db.close();
  }

  insertDeal(row: Omit<ClientDealRow, "status" | "createdAt">): void {
    this.db
      .prepare(
        `INSERT OR REPLACE INTO deals (proposal_hash, provider, provider_url, deal_id, piece_cid, root, payload_size,
           padded_size, proposal_json, file_path, status, created_at)
         VALUES (?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, 'proposed', ?)`,
      )
      .run(
        row.proposalHash,
        row.provider,
        row.providerUrl,
        row.pieceCid,
        row.root,
        row.payloadSize,
        row.paddedSize,
        stringifyJson(row.proposal),
        row.filePath,
        Date.now(),
      );
  }

  markPublished(proposalHash: Hex, dealId: bigint, txHash: Hex): void {
    this.db
      .prepare("UPDATE deals SET status = 'published', deal_id = ?, tx_hash = ? WHERE proposal_hash = ?")
      .run(dealId.toString(), txHash, proposalHash);
  }

  /** Replaces a renewed deal's row with one for its new proposal (same deal id, published). */
  renewDeal(oldHash: Hex, row: Omit<ClientDealRow, "status" | "createdAt">, txHash: Hex): void {
    this.db.transaction(() => {
      this.db.prepare("DELETE FROM deals WHERE proposal_hash = ?").run(oldHash);
      this.insertDeal(row);
      if (row.dealId !== undefined) this.markPublished(row.proposalHash, row.dealId, txHash);
    })();
  }

  markFailed(proposalHash: Hex, reason: string): void {
    this.db.prepare("UPDATE deals SET status = 'failed', reason = ? WHERE proposal_hash = ?").run(reason, proposalHash);
  }

  deals(): ClientDealRow[] {
    return (this.db.prepare("SELECT * FROM deals ORDER BY created_at").all() as RawDeal[]).map(toRow);
  }

  putManifest(droot: Hex, json: string): void {
    this.db.prepare("INSERT OR REPLACE INTO manifests (droot, json) VALUES (?, ?)").run(droot.toLowerCase(), json);
  }

  manifest(droot: Hex): string | undefined {
    const r = this.db.prepare("SELECT json FROM manifests WHERE droot = ?").get(droot.toLowerCase()) as
      { json: string } | undefined;
    return r?.json;
  }

  /** Keeps the provider's verified `StorageDealAcceptance` signature of a proposal. */
  putAcceptance(proposalHash: Hex, signature: Hex): void {
    this.db
      .prepare("INSERT OR REPLACE INTO acceptances (proposal_hash, signature) VALUES (?, ?)")
      .run(proposalHash.toLowerCase(), signature);
  }

  /** The provider's acceptance of a proposal, if one was received. */
  acceptance(proposalHash: Hex): Hex | undefined {
    const r = this.db
      .prepare("SELECT signature FROM acceptances WHERE proposal_hash = ?")
      .get(proposalHash.toLowerCase()) as { signature: string } | undefined;
    return r?.signature as Hex | undefined;
  }

  /** The newest row of direct deal `dealId` (a renewal replaces its row), if this client has it. */
  dealById(dealId: bigint): ClientDealRow | undefined {
    const r = this.db
      .prepare("SELECT * FROM deals WHERE deal_id = ? ORDER BY created_at DESC LIMIT 1")
      .get(dealId.toString()) as RawDeal | undefined;
    return r ? toRow(r) : undefined;
  }

  /** Every row (any status) of the direct deals on `pieceCid`, oldest first. */
  dealsOnPiece(pieceCid: string): ClientDealRow[] {
    return (
      this.db.prepare("SELECT * FROM deals WHERE piece_cid = ? ORDER BY created_at").all(pieceCid) as RawDeal[]
    ).map(toRow);
  }

  dealsForPiece(pieceCid: string): ClientDealRow[] {
    return (
      this.db.prepare("SELECT * FROM deals WHERE piece_cid = ? AND status = 'published'").all(pieceCid) as RawDeal[]
    ).map(toRow);
  }
}
