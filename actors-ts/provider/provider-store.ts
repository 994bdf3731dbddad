import type { Address, Hex } from "viem";
import { openDatabase, type SqliteDatabase } from "../core/database";
import { stringifyJson } from "../core/json";
import { proposalFromJson, type StorageDealProposal } from "../chain/eip712";
import { PROVIDER_MIGRATIONS } from "./provider-schema";
import { ProviderHoldingsLog } from "./holdings-log";

/**
 * The provider's persistent state (SQLite, WAL): proposals through their life, published deals
 * with their place in the proof set, stored pieces, and seen request nonces. Everything a
 * restart needs to resume lives here; the chain is the authority it is reconciled against.
 */

/** Lifecycle of a proposal at this provider. */
export type ProposalStatus = "accepted" | "stored" | "published" | "failed" | "expired";

export interface ProposalRow {
  proposalHash: Hex;
  client: Address;
  /** Address that signed the HTTP request that proposed it (may differ for contract clients). */
  submitter: Address;
  proposal: StorageDealProposal;
  clientSignature: Hex;
  pieceCidV2: string;
  root: Hex;
  payloadSize: number;
  paddedSize: number;
  status: ProposalStatus;
  reason?: string;
  dealId?: bigint;
  txHash?: Hex;
  createdAt: number;
}

export interface DealRow {
  dealId: bigint;
  proposalHash: Hex;
  root: Hex;
  /** The data set (this provider, the deal's client) holding the piece. */
  dataSetId: bigint;
  /** The piece's index in its data set (1-based). */
  pieceIndex: bigint;
  log2Leaves: number;
  startEpoch: bigint;
  endEpoch: bigint;
  status: "open" | "closed";
  closedReason?: string;
}

export interface PieceRow {
  root: Hex;
  pieceCidV2: string;
  payloadSize: number;
  paddedSize: number;
  status: "ok" | "lost";
  verifiedAt?: number;
}

interface RawProposal {
  proposal_hash: string;
  client: string;
  submitter: string;
  proposal_json: string;
  client_signature: string;
  piece_cid_v2: string;
  root: string;
  payload_size: number;
  padded_size: number;
  status: ProposalStatus;
  reason: string | null;
  deal_id: string | null;
  tx_hash: string | null;
  created_at: number;
}

interface RawDeal {
  deal_id: string;
  proposal_hash: string;
  root: string;
  data_set_id: number;
  piece_index: string;
  log2_leaves: number;
  start_epoch: string;
  end_epoch: string;
  status: "open" | "closed";
  closed_reason: string | null;
}

function toProposalRow(r: RawProposal): ProposalRow {
  return {
    proposalHash: r.proposal_hash as Hex,
    client: r.client as Address,
    submitter: r.submitter as Address,
    proposal: proposalFromJson(JSON.parse(r.proposal_json) as Record<string, string>),
    clientSignature: r.client_signature as Hex,
    pieceCidV2: r.piece_cid_v2,
    root: r.root as Hex,
    payloadSize: r.payload_size,
    paddedSize: r.padded_size,
    status: r.status,
    reason: r.reason ?? undefined,
    dealId: r.deal_id ? BigInt(r.deal_id) : undefined,
    txHash: (r.tx_hash ?? undefined) as Hex | undefined,
    createdAt: r.created_at,
  };
}

function toDealRow(r: RawDeal): DealRow {
  return {
    dealId: BigInt(r.deal_id),
    proposalHash: r.proposal_hash as Hex,
    root: r.root as Hex,
    dataSetId: BigInt(r.data_set_id),
    pieceIndex: BigInt(r.piece_index),
    log2Leaves: r.log2_leaves,
    startEpoch: BigInt(r.start_epoch),
    endEpoch: BigInt(r.end_epoch),
    status: r.status,
    closedReason: r.closed_reason ?? undefined,
  };
}

export class ProviderStore {
  readonly db: SqliteDatabase;

  /** The holdings log advertisements are built from (seed 002). */
  readonly holdings: ProviderHoldingsLog;

  constructor(path: string) {
    this.db = openDatabase(path, PROVIDER_MIGRATIONS);
    this.holdings = new ProviderHoldingsLog(this.db);
  }

  close(): void {
    this.db.close();
  }

  /** A value from the daemon's key/value table. */
  get(key: string): string | undefined {
    return (this.db.prepare("SELECT value FROM kv WHERE key = ?").get(key) as { value: string } | undefined)?.value;
  }

  /** Sets a value in the daemon's key/value table. */
  set(key: string, value: string): void {
    this.db.prepare("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)").run(key, value);
  }

  // ------------------------------------------------------------------ proposals

  insertProposal(row: Omit<ProposalRow, "status" | "createdAt">): void {
    const now = Date.now();
    this.db
      .prepare(
        `INSERT INTO proposals (proposal_hash, client, submitter, proposal_json, client_signature, piece_cid_v2, root,
           payload_size, padded_size, status, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'accepted', ?, ?)`,
      )
      .run(
        row.proposalHash,
        row.client,
        row.submitter,
        stringifyJson(row.proposal),
        row.clientSignature,
        row.pieceCidV2,
        row.root,
        row.payloadSize,
        row.paddedSize,
        now,
        now,
      );
  }

  proposal(hash: Hex): ProposalRow | undefined {
    const r = this.db.prepare("SELECT * FROM proposals WHERE proposal_hash = ?").get(hash.toLowerCase()) as
      RawProposal | undefined;
    return r ? toProposalRow(r) : undefined;
  }

  proposalsWithStatus(status: ProposalStatus, limit = 1000): ProposalRow[] {
    return (
      this.db
        .prepare("SELECT * FROM proposals WHERE status = ? ORDER BY created_at LIMIT ?")
        .all(status, limit) as RawProposal[]
    ).map(toProposalRow);
  }

  setProposalStatus(
    hash: Hex,
    status: ProposalStatus,
    extra: { reason?: string; dealId?: bigint; txHash?: Hex } = {},
  ): void {
    this.db
      .prepare(
        `UPDATE proposals SET status = ?, reason = COALESCE(?, reason), deal_id = COALESCE(?, deal_id),
           tx_hash = COALESCE(?, tx_hash), updated_at = ? WHERE proposal_hash = ?`,
      )
      .run(status, extra.reason ?? null, extra.dealId?.toString() ?? null, extra.txHash ?? null, Date.now(), hash);
  }

  /** Bytes of accepted, stored and open-deal pieces: what counts against capacity. */
  committedBytes(): number {
    const row = this.db
      .prepare(
        `SELECT COALESCE(SUM(padded_size), 0) AS total FROM proposals
         WHERE status IN ('accepted', 'stored') OR (status = 'published' AND deal_id IN
           (SELECT deal_id FROM deals WHERE status = 'open'))`,
      )
      .get() as { total: number };
    return row.total;
  }

  // ------------------------------------------------------------------ deals

  insertDeal(row: Omit<DealRow, "status" | "closedReason">): void {
    this.db
      .prepare(
        `INSERT OR IGNORE INTO deals (deal_id, proposal_hash, root, data_set_id, piece_index, log2_leaves, start_epoch,
           end_epoch, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'open')`,
      )
      .run(
        row.dealId.toString(),
        row.proposalHash,
        row.root,
        Number(row.dataSetId),
        row.pieceIndex.toString(),
        row.log2Leaves,
        row.startEpoch.toString(),
        row.endEpoch.toString(),
      );
  }

  /** Points a renewed deal at its new proposal and end epoch. */
  renewDeal(dealId: bigint, proposalHash: Hex, endEpoch: bigint): void {
    this.db
      .prepare("UPDATE deals SET proposal_hash = ?, end_epoch = ? WHERE deal_id = ?")
      .run(proposalHash, endEpoch.toString(), dealId.toString());
  }

  openDeals(): DealRow[] {
    return (this.db.prepare("SELECT * FROM deals WHERE status = 'open'").all() as RawDeal[]).map(toDealRow);
  }

  deal(dealId: bigint): DealRow | undefined {
    const r = this.db.prepare("SELECT * FROM deals WHERE deal_id = ?").get(dealId.toString()) as RawDeal | undefined;
    return r ? toDealRow(r) : undefined;
  }

  openDealsForPiece(root: Hex): DealRow[] {
    return (
      this.db.prepare("SELECT * FROM deals WHERE status = 'open' AND root = ?").all(root.toLowerCase()) as RawDeal[]
    ).map(toDealRow);
  }

  closeDeal(dealId: bigint, reason: string): void {
    this.db
      .prepare("UPDATE deals SET status = 'closed', closed_reason = ? WHERE deal_id = ?")
      .run(reason, dealId.toString());
  }

  /** Clients of open deals for a piece (who may fetch it without paying). */
  clientsOfPiece(root: Hex): Address[] {
    const rows = this.db
      .prepare(
        `SELECT DISTINCT p.client AS client FROM deals d JOIN proposals p ON p.proposal_hash = d.proposal_hash
         WHERE d.root = ? AND d.status = 'open'`,
      )
      .all(root.toLowerCase()) as { client: string }[];
    return rows.map((r) => r.client as Address);
  }

  // ------------------------------------------------------------------ pieces

  /**
   * Records a piece held in good state. One row per root: when a piece with the same root but a
   * longer payload arrives (the extra bytes are zeros), the row takes the longer size and
   * PieceCID, since its blob now serves both (see `receivePiece`); a shorter one changes nothing.
   */
  upsertPiece(row: Omit<PieceRow, "status" | "verifiedAt">): void {
    this.db
      .prepare(
        `INSERT INTO pieces (root, piece_cid_v2, payload_size, padded_size, status, verified_at)
         VALUES (?, ?, ?, ?, 'ok', ?)
         ON CONFLICT(root) DO UPDATE SET
           status = 'ok',
           verified_at = excluded.verified_at,
           piece_cid_v2 = CASE WHEN excluded.payload_size > payload_size OR status <> 'ok'
                          THEN excluded.piece_cid_v2 ELSE piece_cid_v2 END,
           payload_size = CASE WHEN excluded.payload_size > payload_size OR status <> 'ok'
                          THEN excluded.payload_size ELSE payload_size END`,
      )
      .run(row.root, row.pieceCidV2, row.payloadSize, row.paddedSize, Date.now());
  }

  piece(root: Hex): PieceRow | undefined {
    const r = this.db.prepare("SELECT * FROM pieces WHERE root = ?").get(root.toLowerCase()) as
      | {
          root: string;
          piece_cid_v2: string;
          payload_size: number;
          padded_size: number;
          status: "ok" | "lost";
          verified_at: number | null;
        }
      | undefined;
    return r
      ? {
          root: r.root as Hex,
          pieceCidV2: r.piece_cid_v2,
          payloadSize: r.payload_size,
          paddedSize: r.padded_size,
          status: r.status,
          verifiedAt: r.verified_at ?? undefined,
        }
      : undefined;
  }

  pieces(): PieceRow[] {
    return (this.db.prepare("SELECT root FROM pieces").all() as { root: string }[])
      .map((r) => this.piece(r.root as Hex))
      .filter((p): p is PieceRow => p !== undefined);
  }

  setPieceStatus(root: Hex, status: "ok" | "lost"): void {
    this.db.prepare("UPDATE pieces SET status = ?, verified_at = ? WHERE root = ?").run(status, Date.now(), root);
  }

  deletePiece(root: Hex): void {
    this.db.prepare("DELETE FROM pieces WHERE root = ?").run(root);
  }

  // ------------------------------------------------------------------ manifests

  putManifest(droot: Hex, json: string): void {
    this.db
      .prepare("INSERT OR REPLACE INTO manifests (droot, json, stored_at) VALUES (?, ?, ?)")
      .run(droot.toLowerCase(), json, Date.now());
  }

  manifest(droot: Hex): string | undefined {
    const r = this.db.prepare("SELECT json FROM manifests WHERE droot = ?").get(droot.toLowerCase()) as
      { json: string } | undefined;
    return r?.json;
  }

  // ------------------------------------------------------------------ request nonces

  /** Records a request nonce; false when it was already used. */
  useNonce(signer: Address, nonce: string, expiresAt: number): boolean {
    const result = this.db
      .prepare("INSERT OR IGNORE INTO request_nonces (signer, nonce, expires_at) VALUES (?, ?, ?)")
      .run(signer.toLowerCase(), nonce, expiresAt);
    return result.changes === 1;
  }

  pruneNonces(now = Date.now()): void {
    this.db.prepare("DELETE FROM request_nonces WHERE expires_at < ?").run(now);
  }
}
