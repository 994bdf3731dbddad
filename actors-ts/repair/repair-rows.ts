import type { Address, Hex } from "viem";
import type { SignedProposal } from "../client/storage-client";
import { proposalFromJson } from "../chain/eip712";

/**
 * The repair miner's rows as the rest of the daemon sees them, and their decoding from SQLite
 * (integers as decimal strings, JSON columns, NULL as undefined). See {@link RepairStore}.
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
  /**
   * queued → rebuilt (pieces handed to placement) → reassigned (`reassignPiece` sent for every
   * piece) → done (each new storage deal proven and confirmed on chain with `confirmPiece`: the
   * repair counts from then, decision 25); lost when the file was lost first.
   */
  status: "queued" | "rebuilt" | "reassigned" | "done" | "lost";
  attempts: number;
  nextAttemptAt: number;
  error?: string;
  /** Bytes downloaded (all attempts, verified or not). */
  bytesDownloaded: number;
  /** How the last attempt rebuilt (or is rebuilding) the pieces, e.g. "clay file: sub-chunks from d helpers". */
  method?: string;
  /** Epoch the earliest of these losses was detected. */
  faultEpoch?: bigint;
  /** Epoch of the last reassignPiece transaction. */
  reassignedEpoch?: bigint;
  /** Epoch every rebuilt piece's new storage deal was confirmed on chain (status "done"). */
  confirmedEpoch?: bigint;
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

export const opt = <T>(v: T | null): T | undefined => (v === null ? undefined : v);

export interface RawIntake {
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

export function toIntake(r: RawIntake): IntakeRow {
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

export interface RawDeal {
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

export function toDeal(r: RawDeal): DealRow {
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

export interface RawPiece {
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

export function toPiece(r: RawPiece): PieceRow {
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

export function parseSignedProposal(json: string): SignedProposal {
  const raw = JSON.parse(json) as SignedProposal & { proposal: Record<string, string> };
  return { ...raw, proposal: proposalFromJson(raw.proposal) };
}

export interface RawRepair {
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
  confirmed_epoch: string | null;
  method: string | null;
  created_at: number;
  finished_at: number | null;
}

export function toRepair(r: RawRepair): RepairJobRow {
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
    confirmedEpoch: r.confirmed_epoch ? BigInt(r.confirmed_epoch) : undefined,
    method: opt(r.method),
    createdAt: r.created_at,
    finishedAt: opt(r.finished_at),
  };
}

export interface RawEvidence {
  deal_id: string;
  idx: number;
  provider: string;
  piece_cid: string;
  expected: string;
  actual: string;
  stage: string;
  at: number;
}
