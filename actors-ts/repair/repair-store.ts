import type { Address, Hex } from "viem";
import { openDatabase, type SqliteDatabase } from "../core/database";
import { stringifyJson } from "../core/json";
import {
  toIntake,
  toDeal,
  toPiece,
  type IntakeRow,
  type DealRow,
  type PieceRow,
  type EvidenceRow,
  type RawIntake,
  type RawDeal,
  type RawPiece,
  type RawEvidence,
} from "./repair-rows";
import { REPAIR_MIGRATIONS } from "./repair-schema";
import { proposalFromJson, type StorageDealProposal } from "../chain/eip712";
import { RepairJobs } from "./repair-jobs";
import { WorkerDeals } from "./worker-deals";
export type { DealRow, EvidenceRow, IntakeRow, PieceRow, PieceState, RepairJobRow } from "./repair-rows";

/**
 * The repair miner's persistent state (SQLite, WAL). Every step of intake, placement and repair
 * is a row whose state says what to do next, so a daemon killed at any point resumes from here;
 * the chain is the authority each step is reconciled against before it acts (DESIGN.md
 * "repair miner daemon", issue "Crash safety"). Row shapes are in repair-rows.ts, the schema in
 * repair-schema.ts.
 */
export class RepairStore {
  readonly db: SqliteDatabase;

  /** The repair queue: jobs, their indices and their hand-over to placement. */
  readonly jobs: RepairJobs;

  /** The worker's storage deals waiting to be seen closed (the settler's queue). */
  readonly workerDeals: WorkerDeals;

  constructor(path: string) {
    this.db = openDatabase(path, REPAIR_MIGRATIONS);
    this.jobs = new RepairJobs(this.db, this);
    this.workerDeals = new WorkerDeals(this.db);
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

  /** Records a repair deal's new end epoch after the client extended it (`RepairDealExtended`). */
  setDealEndEpoch(dealId: bigint, endEpoch: bigint): void {
    this.db.prepare("UPDATE deals SET end_epoch = ? WHERE deal_id = ?").run(endEpoch.toString(), dealId.toString());
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

  /** Storage deals a repair replaced and the market has not yet been seen to close, oldest first. */
  retiredStorageDeals(): { storageDealId: bigint; proposal: StorageDealProposal }[] {
    const rows = this.db
      .prepare(
        "SELECT storage_deal_id, proposal_json FROM retired_storage_deals WHERE settled_at IS NULL ORDER BY retired_at",
      )
      .all() as { storage_deal_id: string; proposal_json: string }[];
    return rows.map((r) => ({
      storageDealId: BigInt(r.storage_deal_id),
      proposal: proposalFromJson(JSON.parse(r.proposal_json) as Record<string, string>),
    }));
  }

  /** Records that a retired storage deal is closed on chain (settled by us or by anyone). */
  markRetiredSettled(storageDealId: bigint): void {
    this.db
      .prepare("UPDATE retired_storage_deals SET settled_at = ?, error = NULL WHERE storage_deal_id = ?")
      .run(Date.now(), storageDealId.toString());
  }

  /** Records why settling a retired storage deal failed (it is tried again next round). */
  markRetiredError(storageDealId: bigint, error: string): void {
    this.db
      .prepare("UPDATE retired_storage_deals SET error = ? WHERE storage_deal_id = ?")
      .run(error, storageDealId.toString());
  }
}
