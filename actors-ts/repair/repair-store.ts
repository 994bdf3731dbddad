import type { Address, Hex } from "viem";
import { openDatabase, type SqliteDatabase } from "../core/database";
import { stringifyJson } from "../core/json";
import type { SignedProposal } from "../client/storage-client";
import { proposalFromJson } from "../chain/eip712";

/**
 * The repair miner's persistent state (SQLite, WAL). Every step of intake, placement and repair
 * is a row whose state says what to do next, so a daemon killed at any point resumes from here;
 * the chain is the authority each step is reconciled against before it acts (DESIGN.md
 * "repair miner daemon", issue "Crash safety").
 */

/** A client's repair-deal proposal while its pieces arrive (tentative acceptance). */
export interface IntakeRow {
  id: string;
  client: Address;
  bidId: bigint;
  askId: bigint;
  /** Last epoch the client's authorization is valid. */
  deadline: bigint;
  clientSignature: Hex;
  droot: Hex;
  status: "receiving" | "committing" | "committed" | "rejected";
  dealId?: bigint;
  txHash?: Hex;
  error?: string;
}

/** A repair deal the miner runs. */
export interface DealRow {
  dealId: bigint;
  droot: Hex;
  client: Address;
  k: number;
  m: number;
  /** Padded piece size, bytes. */
  pieceSize: bigint;
  endEpoch: bigint;
  status: "placing" | "active" | "lost" | "completed";
  /** Whether the local piece copies were deleted (every piece proven once). */
  localCopiesDropped: boolean;
}

/**
 * Placement state of one piece:
 * pending → proposed (proposal persisted before it is sent) → published (storage deal on chain)
 * → assigned (assignPiece / reassignPiece done); lost once its storage deal faulted and the
 * loss is reported, until a repair job rebuilds it (pending again, mode "reassign").
 */
export type PieceState = "pending" | "proposed" | "published" | "assigned" | "lost";

export interface PieceRow {
  dealId: bigint;
  index: number;
  pieceCid: string;
  root: Hex;
  payloadSize: number;
  state: PieceState;
  mode: "assign" | "reassign";
  provider?: Address;
  storageDealId?: bigint;
  proposal?: SignedProposal;
  /** Local copy of the piece's bytes (intake upload or rebuilt), until dropped. */
  localPath?: string;
  /** Providers that refused or failed this piece: not asked again for it. */
  excluded: Address[];
  attempts: number;
  nextAttemptAt: number;
  error?: string;
  /** Epoch the storage deal was first seen faulted or terminated. */
  faultEpoch?: bigint;
}

/** A repair of one deal: fetch k pieces, rebuild the lost ones, hand them to placement. */
export interface RepairJobRow {
  id: number;
  dealId: bigint;
  /** Piece indices being rebuilt. */
  indices: number[];
  status: "queued" | "rebuilt" | "done" | "lost";
  attempts: number;
  nextAttemptAt: number;
  error?: string;
  /** Bytes downloaded (all attempts, verified or not). */
  bytesDownloaded: number;
  /** Epoch the earliest of these losses was detected. */
  faultEpoch?: bigint;
  /** Epoch of the last reassignPiece transaction. */
  reassignedEpoch?: bigint;
  createdAt: number;
  finishedAt?: number;
}

/** Seed 003's evidence: a provider's bytes did not match the piece commitment. */
export interface EvidenceRow {
  dealId: bigint;
  index: number;
  provider: Address;
  pieceCid: string;
  expected: string;
  actual: string;
  stage: string;
  at: number;
}

const MIGRATIONS = [
  `CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE manifests (droot TEXT PRIMARY KEY, json TEXT NOT NULL);
   CREATE TABLE request_nonces (
     signer TEXT NOT NULL, nonce TEXT NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (signer, nonce)
   );
   CREATE TABLE intakes (
     id TEXT PRIMARY KEY,
     client TEXT NOT NULL,
     bid_id TEXT NOT NULL UNIQUE,
     ask_id TEXT NOT NULL,
     deadline TEXT NOT NULL,
     client_signature TEXT NOT NULL,
     droot TEXT NOT NULL,
     status TEXT NOT NULL,
     deal_id TEXT,
     tx_hash TEXT,
     error TEXT,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE deals (
     deal_id TEXT PRIMARY KEY,
     droot TEXT NOT NULL,
     client TEXT NOT NULL,
     k INTEGER NOT NULL,
     m INTEGER NOT NULL,
     piece_size TEXT NOT NULL,
     end_epoch TEXT NOT NULL,
     status TEXT NOT NULL,
     local_dropped INTEGER NOT NULL DEFAULT 0
   );
   CREATE TABLE pieces (
     deal_id TEXT NOT NULL,
     idx INTEGER NOT NULL,
     piece_cid TEXT NOT NULL,
     root TEXT NOT NULL,
     payload_size INTEGER NOT NULL,
     state TEXT NOT NULL,
     mode TEXT NOT NULL,
     provider TEXT,
     storage_deal_id TEXT,
     proposal_json TEXT,
     local_path TEXT,
     excluded_json TEXT NOT NULL DEFAULT '[]',
     attempts INTEGER NOT NULL DEFAULT 0,
     next_attempt_at INTEGER NOT NULL DEFAULT 0,
     error TEXT,
     fault_epoch TEXT,
     PRIMARY KEY (deal_id, idx)
   );
   CREATE TABLE repairs (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     deal_id TEXT NOT NULL,
     indices_json TEXT NOT NULL,
     status TEXT NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     next_attempt_at INTEGER NOT NULL DEFAULT 0,
     error TEXT,
     bytes_downloaded INTEGER NOT NULL DEFAULT 0,
     fault_epoch TEXT,
     reassigned_epoch TEXT,
     created_at INTEGER NOT NULL,
     finished_at INTEGER
   );
   CREATE TABLE evidence (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     deal_id TEXT NOT NULL,
     idx INTEGER NOT NULL,
     provider TEXT NOT NULL,
     piece_cid TEXT NOT NULL,
     expected TEXT NOT NULL,
     actual TEXT NOT NULL,
     stage TEXT NOT NULL,
     at INTEGER NOT NULL
   );`,
];

const opt = <T>(v: T | null): T | undefined => (v === null ? undefined : v);

export class RepairStore {
  readonly db: SqliteDatabase;

  constructor(path: string) {
    this.db = openDatabase(path, MIGRATIONS);
  }

  close(): void {
    this.db.close();
  }

  // ------------------------------------------------------------------ key/value

  get(key: string): string | undefined {
    return (this.db.prepare("SELECT value FROM kv WHERE key = ?").get(key) as { value: string } | undefined)?.value;
  }

  set(key: string, value: string): void {
    this.db.prepare("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)").run(key, value);
  }

  useNonce(signer: Address, nonce: string, expiresAt: number): boolean {
    this.db.prepare("DELETE FROM request_nonces WHERE expires_at < ?").run(Date.now());
    return (
      this.db
        .prepare("INSERT OR IGNORE INTO request_nonces (signer, nonce, expires_at) VALUES (?, ?, ?)")
        .run(signer.toLowerCase(), nonce, expiresAt).changes === 1
    );
  }

  // ------------------------------------------------------------------ manifests

  putManifest(droot: Hex, json: string): void {
    this.db.prepare("INSERT OR REPLACE INTO manifests (droot, json) VALUES (?, ?)").run(droot.toLowerCase(), json);
  }

  manifest(droot: Hex): string | undefined {
    return (
      this.db.prepare("SELECT json FROM manifests WHERE droot = ?").get(droot.toLowerCase()) as
        { json: string } | undefined
    )?.json;
  }

  // ------------------------------------------------------------------ intakes

  insertIntake(row: Omit<IntakeRow, "status">): void {
    this.db
      .prepare(
        `INSERT INTO intakes (id, client, bid_id, ask_id, deadline, client_signature, droot, status, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'receiving', ?)`,
      )
      .run(
        row.id,
        row.client,
        row.bidId.toString(),
        row.askId.toString(),
        row.deadline.toString(),
        row.clientSignature,
        row.droot.toLowerCase(),
        Date.now(),
      );
  }

  intake(id: string): IntakeRow | undefined {
    const r = this.db.prepare("SELECT * FROM intakes WHERE id = ?").get(id) as RawIntake | undefined;
    return r && toIntake(r);
  }

  intakeForBid(bidId: bigint): IntakeRow | undefined {
    const r = this.db.prepare("SELECT * FROM intakes WHERE bid_id = ?").get(bidId.toString()) as RawIntake | undefined;
    return r && toIntake(r);
  }

  intakesWithStatus(status: IntakeRow["status"]): IntakeRow[] {
    return (this.db.prepare("SELECT * FROM intakes WHERE status = ?").all(status) as RawIntake[]).map(toIntake);
  }

  setIntakeStatus(
    id: string,
    status: IntakeRow["status"],
    extra: { dealId?: bigint; txHash?: Hex; error?: string } = {},
  ): void {
    this.db
      .prepare(
        "UPDATE intakes SET status = ?, deal_id = COALESCE(?, deal_id), tx_hash = COALESCE(?, tx_hash), error = ? WHERE id = ?",
      )
      .run(status, extra.dealId?.toString() ?? null, extra.txHash ?? null, extra.error ?? null, id);
  }

  // ------------------------------------------------------------------ deals and pieces

  /** Inserts a deal and its pieces in one transaction (no-op when the deal is known). */
  insertDeal(
    deal: Omit<DealRow, "localCopiesDropped">,
    pieces: Omit<PieceRow, "excluded" | "attempts" | "nextAttemptAt">[],
  ): boolean {
    return this.db.transaction(() => {
      const inserted = this.db
        .prepare(
          `INSERT OR IGNORE INTO deals (deal_id, droot, client, k, m, piece_size, end_epoch, status)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          deal.dealId.toString(),
          deal.droot.toLowerCase(),
          deal.client,
          deal.k,
          deal.m,
          deal.pieceSize.toString(),
          deal.endEpoch.toString(),
          deal.status,
        ).changes;
      if (inserted === 0) return false;
      const insert = this.db.prepare(
        `INSERT INTO pieces (deal_id, idx, piece_cid, root, payload_size, state, mode, provider, storage_deal_id, local_path, fault_epoch)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      for (const p of pieces) {
        insert.run(
          p.dealId.toString(),
          p.index,
          p.pieceCid,
          p.root,
          p.payloadSize,
          p.state,
          p.mode,
          p.provider ?? null,
          p.storageDealId?.toString() ?? null,
          p.localPath ?? null,
          p.faultEpoch?.toString() ?? null,
        );
      }
      return true;
    })();
  }

  deal(dealId: bigint): DealRow | undefined {
    const r = this.db.prepare("SELECT * FROM deals WHERE deal_id = ?").get(dealId.toString()) as RawDeal | undefined;
    return r && toDeal(r);
  }

  deals(status?: DealRow["status"][]): DealRow[] {
    const rows = this.db.prepare("SELECT * FROM deals ORDER BY CAST(deal_id AS INTEGER)").all() as RawDeal[];
    return rows.map(toDeal).filter((d) => !status || status.includes(d.status));
  }

  setDealStatus(dealId: bigint, status: DealRow["status"]): void {
    this.db.prepare("UPDATE deals SET status = ? WHERE deal_id = ?").run(status, dealId.toString());
  }

  markLocalCopiesDropped(dealId: bigint): void {
    this.db.prepare("UPDATE deals SET local_dropped = 1 WHERE deal_id = ?").run(dealId.toString());
  }

  pieces(dealId: bigint): PieceRow[] {
    return (
      this.db.prepare("SELECT * FROM pieces WHERE deal_id = ? ORDER BY idx").all(dealId.toString()) as RawPiece[]
    ).map(toPiece);
  }

  piece(dealId: bigint, index: number): PieceRow | undefined {
    const r = this.db.prepare("SELECT * FROM pieces WHERE deal_id = ? AND idx = ?").get(dealId.toString(), index) as
      RawPiece | undefined;
    return r && toPiece(r);
  }

  /** Pieces waiting for placement work whose retry time has come. */
  piecesToPlace(now = Date.now()): PieceRow[] {
    return (
      this.db
        .prepare(
          `SELECT pieces.* FROM pieces JOIN deals USING (deal_id)
           WHERE state IN ('pending', 'proposed', 'published') AND next_attempt_at <= ?
             AND deals.status IN ('placing', 'active')
           ORDER BY CAST(deal_id AS INTEGER), idx`,
        )
        .all(now) as RawPiece[]
    ).map(toPiece);
  }

  /** Updates a piece's placement fields (only those given). */
  updatePiece(
    dealId: bigint,
    index: number,
    fields: Partial<Omit<PieceRow, "dealId" | "index" | "pieceCid" | "root" | "payloadSize">>,
  ): void {
    const columns: Record<string, unknown> = {};
    if (fields.state !== undefined) columns.state = fields.state;
    if (fields.mode !== undefined) columns.mode = fields.mode;
    if ("provider" in fields) columns.provider = fields.provider ?? null;
    if ("storageDealId" in fields) columns.storage_deal_id = fields.storageDealId?.toString() ?? null;
    if ("proposal" in fields) columns.proposal_json = fields.proposal ? stringifyJson(fields.proposal) : null;
    if ("localPath" in fields) columns.local_path = fields.localPath ?? null;
    if (fields.excluded !== undefined) columns.excluded_json = JSON.stringify(fields.excluded);
    if (fields.attempts !== undefined) columns.attempts = fields.attempts;
    if (fields.nextAttemptAt !== undefined) columns.next_attempt_at = fields.nextAttemptAt;
    if ("error" in fields) columns.error = fields.error ?? null;
    if ("faultEpoch" in fields) columns.fault_epoch = fields.faultEpoch?.toString() ?? null;
    const keys = Object.keys(columns);
    if (keys.length === 0) return;
    this.db
      .prepare(`UPDATE pieces SET ${keys.map((k) => `${k} = ?`).join(", ")} WHERE deal_id = ? AND idx = ?`)
      .run(...keys.map((k) => columns[k]), dealId.toString(), index);
  }

  // ------------------------------------------------------------------ repairs

  /**
   * Adds lost pieces to the deal's queued repair job, or creates one (a job already rebuilding
   * keeps its set; a later loss gets its own job).
   */
  queueRepair(dealId: bigint, indices: number[], faultEpoch: bigint): void {
    this.db.transaction(() => {
      const open = this.db
        .prepare("SELECT * FROM repairs WHERE deal_id = ? AND status IN ('queued', 'rebuilt') ORDER BY id")
        .all(dealId.toString()) as RawRepair[];
      const covered = new Set(open.flatMap((r) => JSON.parse(r.indices_json) as number[]));
      const fresh = indices.filter((i) => !covered.has(i));
      if (fresh.length === 0) return;
      const queued = open.find((r) => r.status === "queued");
      if (queued) {
        const merged = [...new Set([...(JSON.parse(queued.indices_json) as number[]), ...fresh])].sort((a, b) => a - b);
        this.db.prepare("UPDATE repairs SET indices_json = ? WHERE id = ?").run(JSON.stringify(merged), queued.id);
        return;
      }
      this.db
        .prepare(
          "INSERT INTO repairs (deal_id, indices_json, status, fault_epoch, created_at) VALUES (?, ?, 'queued', ?, ?)",
        )
        .run(dealId.toString(), JSON.stringify(fresh), faultEpoch.toString(), Date.now());
    })();
  }

  repairs(status?: RepairJobRow["status"][]): RepairJobRow[] {
    return (this.db.prepare("SELECT * FROM repairs ORDER BY id").all() as RawRepair[])
      .map(toRepair)
      .filter((r) => !status || status.includes(r.status));
  }

  repair(id: number): RepairJobRow | undefined {
    const r = this.db.prepare("SELECT * FROM repairs WHERE id = ?").get(id) as RawRepair | undefined;
    return r && toRepair(r);
  }

  updateRepair(
    id: number,
    fields: Partial<
      Pick<RepairJobRow, "status" | "attempts" | "nextAttemptAt" | "error" | "reassignedEpoch" | "finishedAt">
    >,
  ): void {
    const columns: Record<string, unknown> = {};
    if (fields.status !== undefined) columns.status = fields.status;
    if (fields.attempts !== undefined) columns.attempts = fields.attempts;
    if (fields.nextAttemptAt !== undefined) columns.next_attempt_at = fields.nextAttemptAt;
    if ("error" in fields) columns.error = fields.error ?? null;
    if (fields.reassignedEpoch !== undefined) columns.reassigned_epoch = fields.reassignedEpoch.toString();
    if (fields.finishedAt !== undefined) columns.finished_at = fields.finishedAt;
    const keys = Object.keys(columns);
    if (keys.length === 0) return;
    this.db
      .prepare(`UPDATE repairs SET ${keys.map((k) => `${k} = ?`).join(", ")} WHERE id = ?`)
      .run(...keys.map((k) => columns[k]), id);
  }

  addRepairBytes(id: number, bytes: number): void {
    this.db.prepare("UPDATE repairs SET bytes_downloaded = bytes_downloaded + ? WHERE id = ?").run(bytes, id);
  }

  /**
   * Rebuilt pieces go back to placement (mode "reassign") and the job waits for them, in one
   * transaction: a crash leaves either the job queued or the pieces pending, never neither.
   */
  handRebuiltToPlacement(id: number, dealId: bigint, rebuilt: Map<number, string>): void {
    this.db.transaction(() => {
      for (const [index, path] of rebuilt) {
        this.updatePiece(dealId, index, {
          state: "pending",
          mode: "reassign",
          localPath: path,
          provider: undefined,
          storageDealId: undefined,
          proposal: undefined,
          attempts: 0,
          nextAttemptAt: 0,
          error: undefined,
        });
      }
      this.updateRepair(id, { status: "rebuilt", error: undefined });
    })();
  }

  // ------------------------------------------------------------------ evidence

  addEvidence(row: Omit<EvidenceRow, "at">): void {
    this.db
      .prepare(
        "INSERT INTO evidence (deal_id, idx, provider, piece_cid, expected, actual, stage, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      )
      .run(
        row.dealId.toString(),
        row.index,
        row.provider,
        row.pieceCid,
        row.expected,
        row.actual,
        row.stage,
        Date.now(),
      );
  }

  evidence(dealId?: bigint): EvidenceRow[] {
    const rows = (
      dealId === undefined
        ? this.db.prepare("SELECT * FROM evidence ORDER BY id").all()
        : this.db.prepare("SELECT * FROM evidence WHERE deal_id = ? ORDER BY id").all(dealId.toString())
    ) as RawEvidence[];
    return rows.map((r) => ({
      dealId: BigInt(r.deal_id),
      index: r.idx,
      provider: r.provider as Address,
      pieceCid: r.piece_cid,
      expected: r.expected,
      actual: r.actual,
      stage: r.stage,
      at: r.at,
    }));
  }
}

interface RawIntake {
  id: string;
  client: string;
  bid_id: string;
  ask_id: string;
  deadline: string;
  client_signature: string;
  droot: string;
  status: IntakeRow["status"];
  deal_id: string | null;
  tx_hash: string | null;
  error: string | null;
}

function toIntake(r: RawIntake): IntakeRow {
  return {
    id: r.id,
    client: r.client as Address,
    bidId: BigInt(r.bid_id),
    askId: BigInt(r.ask_id),
    deadline: BigInt(r.deadline),
    clientSignature: r.client_signature as Hex,
    droot: r.droot as Hex,
    status: r.status,
    dealId: r.deal_id ? BigInt(r.deal_id) : undefined,
    txHash: opt(r.tx_hash) as Hex | undefined,
    error: opt(r.error),
  };
}

interface RawDeal {
  deal_id: string;
  droot: string;
  client: string;
  k: number;
  m: number;
  piece_size: string;
  end_epoch: string;
  status: DealRow["status"];
  local_dropped: number;
}

function toDeal(r: RawDeal): DealRow {
  return {
    dealId: BigInt(r.deal_id),
    droot: r.droot as Hex,
    client: r.client as Address,
    k: r.k,
    m: r.m,
    pieceSize: BigInt(r.piece_size),
    endEpoch: BigInt(r.end_epoch),
    status: r.status,
    localCopiesDropped: r.local_dropped === 1,
  };
}

interface RawPiece {
  deal_id: string;
  idx: number;
  piece_cid: string;
  root: string;
  payload_size: number;
  state: PieceState;
  mode: "assign" | "reassign";
  provider: string | null;
  storage_deal_id: string | null;
  proposal_json: string | null;
  local_path: string | null;
  excluded_json: string;
  attempts: number;
  next_attempt_at: number;
  error: string | null;
  fault_epoch: string | null;
}

function toPiece(r: RawPiece): PieceRow {
  return {
    dealId: BigInt(r.deal_id),
    index: r.idx,
    pieceCid: r.piece_cid,
    root: r.root as Hex,
    payloadSize: r.payload_size,
    state: r.state,
    mode: r.mode,
    provider: opt(r.provider) as Address | undefined,
    storageDealId: r.storage_deal_id ? BigInt(r.storage_deal_id) : undefined,
    proposal: r.proposal_json ? parseSignedProposal(r.proposal_json) : undefined,
    localPath: opt(r.local_path),
    excluded: JSON.parse(r.excluded_json) as Address[],
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
    error: opt(r.error),
    faultEpoch: r.fault_epoch ? BigInt(r.fault_epoch) : undefined,
  };
}

function parseSignedProposal(json: string): SignedProposal {
  const raw = JSON.parse(json) as SignedProposal & { proposal: Record<string, string> };
  return { ...raw, proposal: proposalFromJson(raw.proposal) };
}

interface RawRepair {
  id: number;
  deal_id: string;
  indices_json: string;
  status: RepairJobRow["status"];
  attempts: number;
  next_attempt_at: number;
  error: string | null;
  bytes_downloaded: number;
  fault_epoch: string | null;
  reassigned_epoch: string | null;
  created_at: number;
  finished_at: number | null;
}

function toRepair(r: RawRepair): RepairJobRow {
  return {
    id: r.id,
    dealId: BigInt(r.deal_id),
    indices: JSON.parse(r.indices_json) as number[],
    status: r.status,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
    error: opt(r.error),
    bytesDownloaded: r.bytes_downloaded,
    faultEpoch: r.fault_epoch ? BigInt(r.fault_epoch) : undefined,
    reassignedEpoch: r.reassigned_epoch ? BigInt(r.reassigned_epoch) : undefined,
    createdAt: r.created_at,
    finishedAt: opt(r.finished_at),
  };
}

interface RawEvidence {
  deal_id: string;
  idx: number;
  provider: string;
  piece_cid: string;
  expected: string;
  actual: string;
  stage: string;
  at: number;
}
