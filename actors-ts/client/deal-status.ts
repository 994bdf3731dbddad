import { getAddress, type Address, type Hex } from "viem";
import { InvalidArgumentError, RepairMarketError } from "../core/errors";
import type { ChainClients } from "../chain/clients";
import type { MarketContracts } from "../chain/contracts";
import type { DealStateName } from "../chain/constants";
import { decodeContractError, isRevert } from "../chain/contract-errors";
import type { StorageDealProposal } from "../chain/eip712";
import { storageMarketAbi } from "../chain/generated/abis";
import type { RepairDealStateName } from "../chain/generated/types";
import {
  REPAIR_DEAL_STATES,
  getMiner,
  getPieceSlot,
  getRepairDeal,
  repairDealsByDroot,
} from "../chain/repair-market/reads";
import { publishedDealTerms } from "../chain/storage-market/events";
import { dataSetInfo, dealInfo, dealPublishWindow } from "../chain/storage-market/reads";
import { verifyManifest } from "../manifest/manifest";
import type { ClientDealRow, ClientStore } from "./client-store";

/**
 * Seed 001's `GetStorageDealStatus(ClientDealRef) DealStatus` (issue 17 item 9): one object with
 * a deal's on-chain and local state, for a direct storage deal id or for a file's droot.
 *
 * Units throughout: epochs are block numbers, amounts token base units, sizes bytes, `storedAt`
 * ms since the Unix epoch. bigints stay bigints (`stringifyJson` prints them as decimal strings).
 */

/** Neither the chain nor the client's database knows the target. */
export class DealStatusNotFoundError extends RepairMarketError {
  override name = "DealStatusNotFoundError" as const;
}

/** What `client status` was asked about. */
export type StatusTarget = { kind: "deal"; dealId: bigint } | { kind: "droot"; droot: Hex };

/** On-chain state of a direct StorageMarket deal (`dealInfo`, its data set, its `DealPublished` event). */
export interface DirectDealChainState {
  state: DealStateName;
  /** Settled closed (locks released); an ended deal awaiting settlement is not closed yet. */
  closed: boolean;
  provider: Address;
  client: Address;
  dataSetId: bigint;
  /** 1-based index of the piece in its data set. */
  pieceIndex: bigint;
  /** Padded piece size, bytes. */
  pieceSize: bigint;
  /** Payload bytes the deal pays for (from the published proposal). */
  payloadSize?: bigint;
  /** CommP root (32 bytes) of the piece, from the published proposal. */
  pieceCommitment?: Hex;
  startEpoch?: bigint;
  /** End epoch (exclusive), renewals included. */
  endEpoch: bigint;
  /** Token base units per epoch, as published (a renewal keeps it). */
  storagePricePerEpoch?: bigint;
  providerCollateral?: bigint;
  /** Paid up to this epoch (exclusive); 0 before the first settlement. */
  settledUpToEpoch: bigint;
  /** Missed proving periods in a row of the deal's data set. */
  consecutiveFaults: number;
  /** Proven periods of the deal's data set (all its deals together). */
  dataSetProvenPeriods: number;
  dataSetFailed: boolean;
  publishedAtBlock?: bigint;
  publishTxHash?: Hex;
}

/** The client's own row of a direct deal (client.sqlite). */
export interface DirectDealLocalState {
  proposalHash: Hex;
  /** PieceCID v2. */
  pieceCid: string;
  filePath: string;
  status: ClientDealRow["status"];
  reason?: string;
  providerUrl: string;
  /** The proposal signed last (a renewal's, after `client extend`). */
  proposal: StorageDealProposal;
  /** When the row was written, ms since the Unix epoch. */
  storedAt: number;
}

/** A direct storage deal's status. */
export interface DirectDealStatus {
  kind: "direct";
  dealId: bigint;
  /** Undefined when StorageMarket has no such deal (e.g. the client's row is from another chain). */
  chain?: DirectDealChainState;
  /** Undefined when the deal is not this client's. */
  local?: DirectDealLocalState;
}

/** A repair deal of a droot, from RepairMarket (`getDeal`, `pieceSlot`, `getMiner`). */
export interface RepairDealStatus {
  dealId: bigint;
  state: RepairDealStateName;
  bidId: bigint;
  minerId: bigint;
  /** The miner's worker key (the address that answers for it). */
  minerWorker: Address;
  client: Address;
  /** Token base units the client locked, and paid to the miner so far. */
  amount: bigint;
  claimed: bigint;
  /** Encoded payload bytes, all pieces. */
  size: bigint;
  k: number;
  m: number;
  startEpoch: bigint;
  endEpoch: bigint;
  placementDeadline: bigint;
  /** Pieces assigned at least once / proven since assignment / lost now. */
  assigned: number;
  confirmed: number;
  lost: number;
  slots: {
    index: number;
    /** StorageMarket deal holding the piece; 0n before assignment. */
    storageDealId: bigint;
    provider: Address;
    /** Epoch the loss was reported; 0n while healthy. */
    lostAtEpoch: bigint;
    confirmed: boolean;
    slashed: boolean;
  }[];
}

/** A file's status: its manifest, its repair deals and its pieces' direct deals. */
export interface FileStatus {
  kind: "file";
  droot: Hex;
  /** From the client's manifest; undefined when the client has none. */
  local?: {
    k: number;
    m: number;
    /** Bytes. */
    fileSize: number;
    name?: string;
    pieces: { index: number; pieceCid: string; paddedSize: number; payloadSize: number }[];
  };
  /** RepairMarket deals made for bids on this droot (any client), oldest first. */
  repairDeals: RepairDealStatus[];
  /** This client's direct deals on the manifest's pieces (erasure-coded without repair). */
  pieceDeals: DirectDealStatus[];
}

/** What {@link getStatus} answers, with the chain head it was read at. */
export type DealStatus = (DirectDealStatus | FileStatus) & { headEpoch: bigint };

/** What {@link getStatus} reads. */
export interface DealStatusDeps {
  clients: Pick<ChainClients, "public" | "logLimits">;
  contracts: MarketContracts;
  store: ClientStore;
}

/**
 * Parses a `client status` target: a decimal deal id, or a droot (0x and 64 hex digits).
 *
 * @throws InvalidArgumentError for anything else.
 */
export function parseStatusTarget(target: string): StatusTarget {
  const t = target.trim();
  if (/^\d+$/.test(t) && BigInt(t) > 0n) return { kind: "deal", dealId: BigInt(t) };
  if (/^0x[0-9a-fA-F]{64}$/.test(t)) return { kind: "droot", droot: t.toLowerCase() as Hex };
  throw new InvalidArgumentError(
    `"${target}" is neither a deal id (a positive integer) nor a droot (0x and 64 hex digits)`,
    { details: { target } },
  );
}

/**
 * The status of a direct deal (by id) or of a file (by droot): chain and local state in one object.
 *
 * @param target A deal id or droot as text (see {@link parseStatusTarget}), or a parsed target.
 * @throws InvalidArgumentError (not a deal id nor a droot), DealStatusNotFoundError (unknown on
 *   chain and locally), viem's errors when the RPC endpoint fails.
 */
export async function getStatus(deps: DealStatusDeps, target: string | StatusTarget): Promise<DealStatus> {
  const parsed = typeof target === "string" ? parseStatusTarget(target) : target;
  const headEpoch = await deps.clients.public.getBlockNumber();
  if (parsed.kind === "deal") {
    const status = await directDealStatus(deps, parsed.dealId);
    if (!status.chain && !status.local) {
      throw new DealStatusNotFoundError("no such deal on chain or in this client's database", {
        details: { dealId: parsed.dealId },
      });
    }
    return { ...status, headEpoch };
  }
  const status = await fileStatus(deps, parsed.droot);
  if (!status.local && status.repairDeals.length === 0 && status.pieceDeals.length === 0) {
    throw new DealStatusNotFoundError("no file with this droot on chain or in this client's database", {
      details: { droot: parsed.droot },
    });
  }
  return { ...status, headEpoch };
}

/** A direct deal's chain state (undefined when StorageMarket has none) and local row. */
async function directDealStatus(deps: DealStatusDeps, dealId: bigint): Promise<DirectDealStatus> {
  const row = deps.store.dealById(dealId);
  const local: DirectDealLocalState | undefined = row && {
    proposalHash: row.proposalHash,
    pieceCid: row.pieceCid,
    filePath: row.filePath,
    status: row.status,
    reason: row.reason,
    providerUrl: row.providerUrl,
    proposal: row.proposal,
    storedAt: row.createdAt,
  };
  return { kind: "direct", dealId, chain: await directDealChainState(deps, dealId), local };
}

/** StorageMarket's view of deal `dealId`, or undefined when it reverts DealNotFound. */
async function directDealChainState(deps: DealStatusDeps, dealId: bigint): Promise<DirectDealChainState | undefined> {
  const { clients, contracts } = deps;
  let info: Awaited<ReturnType<typeof dealInfo>>;
  try {
    info = await dealInfo(clients, contracts, dealId);
  } catch (err) {
    const decoded = decodeContractError(err, "StorageMarket", "dealInfo", storageMarketAbi);
    if (isRevert(decoded, "DealNotFound")) return undefined;
    throw decoded;
  }
  // The terms are only in the publish log; a deal older than the log lookback shows without them.
  const [set, terms] = await Promise.all([
    dataSetInfo(clients, contracts, info.dataSetId),
    dealPublishWindow(clients, contracts, info).then((window) =>
      publishedDealTerms(clients, contracts, dealId, window),
    ),
  ]);
  return {
    state: info.stateName,
    closed: info.closed,
    provider: info.provider,
    client: info.client,
    dataSetId: info.dataSetId,
    pieceIndex: info.pieceIndex,
    pieceSize: info.pieceSize,
    payloadSize: terms?.proposal.payloadSize,
    pieceCommitment: terms?.proposal.pieceCid,
    startEpoch: terms?.proposal.startEpoch,
    endEpoch: info.endEpoch,
    storagePricePerEpoch: terms?.proposal.storagePricePerEpoch,
    providerCollateral: terms?.proposal.providerCollateral,
    settledUpToEpoch: info.settledUpToEpoch,
    consecutiveFaults: info.consecutiveFaults,
    dataSetProvenPeriods: set.provenPeriods,
    dataSetFailed: set.failed,
    publishedAtBlock: terms?.publishedAtBlock,
    publishTxHash: terms?.txHash,
  };
}

/** A droot's manifest (local), repair deals (chain) and this client's direct deals on its pieces. */
async function fileStatus(deps: DealStatusDeps, droot: Hex): Promise<Omit<FileStatus, "headEpoch">> {
  const json = deps.store.manifest(droot);
  const manifest = json ? verifyManifest(json, droot) : undefined;
  const repairIds = await repairDealsByDroot(deps.clients, deps.contracts, droot);
  const repairDeals: RepairDealStatus[] = [];
  for (const id of repairIds) repairDeals.push(await repairDealStatus(deps, id));
  // Pieces can share a PieceCID (k = 1: the parity is a copy), so each deal is listed once.
  const dealIds = new Set<bigint>();
  for (const piece of manifest?.pieces ?? []) {
    for (const row of deps.store.dealsOnPiece(piece.pieceCid)) if (row.dealId !== undefined) dealIds.add(row.dealId);
  }
  const pieceDeals: DirectDealStatus[] = [];
  for (const id of dealIds) pieceDeals.push(await directDealStatus(deps, id));
  return {
    kind: "file",
    droot,
    local: manifest && {
      k: manifest.k,
      m: manifest.m,
      fileSize: manifest.fileSize,
      name: manifest.name,
      pieces: manifest.pieces.map((p, index) => ({
        index,
        pieceCid: p.pieceCid,
        paddedSize: p.paddedSize,
        payloadSize: p.payloadSize,
      })),
    },
    repairDeals,
    pieceDeals,
  };
}

/** One repair deal with its k + m piece slots and its miner's worker. */
async function repairDealStatus(deps: DealStatusDeps, dealId: bigint): Promise<RepairDealStatus> {
  const { clients, contracts } = deps;
  const deal = await getRepairDeal(clients, contracts, dealId);
  const miner = await getMiner(clients, contracts, deal.minerId);
  const n = deal.codingParams.k + deal.codingParams.m;
  const slots: RepairDealStatus["slots"] = [];
  for (let index = 0; index < n; index++) {
    const slot = await getPieceSlot(clients, contracts, dealId, index);
    slots.push({
      index,
      storageDealId: slot.storageDealId,
      provider: slot.provider,
      lostAtEpoch: slot.lostAtEpoch,
      confirmed: slot.confirmed,
      slashed: slot.slashed,
    });
  }
  return {
    dealId,
    state: REPAIR_DEAL_STATES[deal.state],
    bidId: deal.bidId,
    minerId: deal.minerId,
    minerWorker: getAddress(miner.worker),
    client: deal.client,
    amount: deal.amount,
    claimed: deal.claimed,
    size: deal.size,
    k: deal.codingParams.k,
    m: deal.codingParams.m,
    startEpoch: deal.startEpoch,
    endEpoch: deal.endEpoch,
    placementDeadline: deal.placementDeadline,
    assigned: deal.assigned,
    confirmed: deal.confirmed,
    lost: deal.lost,
    slots,
  };
}
