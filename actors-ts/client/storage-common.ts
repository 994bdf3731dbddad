import type { Address, Hex } from "viem";
import { RepairMarketError } from "../core/errors";
import type { Logger } from "../core/logger";
import type { ChainClients } from "../chain/clients";
import type { MarketContracts } from "../chain/contracts";
import type { StorageDealProposal } from "../chain/eip712";
import { getProvider, type RegisteredProvider } from "../chain/registry/reads";
import type { Manifest } from "../manifest/manifest";
import type { ClientStore } from "./client-store";

/**
 * Types and helpers shared by the storage client's parts (`storage-client.ts`,
 * `piece-transfer.ts`, `deal-publication.ts`).
 */

/** An erasure-coded file stored as direct deals, one piece per provider. */
export interface StoredFile {
  droot: Hex;
  manifest: Manifest;
  deals: StoredDeal[];
}

/** A signed storage deal proposal, ready to send (and to persist before sending). */
export interface SignedProposal {
  proposal: StorageDealProposal;
  clientSignature: Hex;
  /** PieceCID v2 of the piece. */
  pieceCidV2: string;
  /** EIP-712 digest of the proposal: the provider's key for it. */
  proposalHash: Hex;
  /** The provider's endpoint when the proposal was made. */
  providerUrl: string;
}

/**
 * The deal did not reach the chain: the provider reported it failed or expired, or the market
 * skipped it when this client published it with the provider's acceptance (`details.reason` is
 * the provider's reason or the contract's PublishResult).
 */
export class DealNotPublishedError extends RepairMarketError {
  override name = "DealNotPublishedError" as const;
}

/** The provider is not in ProviderRegistry. */
export class ProviderNotRegisteredError extends RepairMarketError {
  override name = "ProviderNotRegisteredError" as const;
}

/** Options of {@link StorageClient.storeFile}. */
export interface StoreOptions {
  provider: Address;
  /** Deal length, epochs (default 1000 proving periods). */
  durationEpochs?: bigint;
  /** Token base units per epoch (default: the provider's ask × padded size). */
  pricePerEpoch?: bigint;
  /** Epochs from now to the deal's start (default: 3 proving periods + 10). */
  startDelayEpochs?: bigint;
  /** Upload attempts before giving up (the provider may restart in between). */
  maxUploadAttempts?: number;
  /** Cap on upload speed, bytes per second (default: unlimited). */
  uploadBytesPerSecond?: number;
  /**
   * How long after the provider holds the piece (and has signed its acceptance) the client waits
   * for the provider to publish before publishing the deal itself, ms (default 60,000). The
   * client also publishes at once if the provider stops answering or reports the publish failed.
   */
  selfPublishAfterMs?: number;
  /**
   * The proposal's label (default: the piece's PieceCID v2). A repair miner's storage deals must
   * carry their slot's label (`repairSlotLabel`), or RepairMarket refuses them.
   */
  label?: string;
  onProgress?: (event: StoreProgress) => void;
}

/** Progress of a store, for bars and `--json` event lists. */
export type StoreProgress =
  | { stage: "commp"; pieceCid: string; paddedSize: number }
  | { stage: "escrow"; deposited: bigint }
  | { stage: "proposed"; proposalHash: Hex }
  /** Erasure-coded stores: file bytes encoded into pieces so far, of `total`. */
  | { stage: "encoding"; done: number; total: number }
  /** Bytes of a piece sent so far; `piece` is its index in an erasure-coded file. */
  | { stage: "upload"; sent: number; total: number; attempt: number; piece?: number }
  /** The provider answered the upload: it has the whole piece and checked its CommP. */
  | { stage: "uploaded" }
  | { stage: "retry"; attempt: number; error: string }
  | { stage: "published"; dealId: bigint; txHash: Hex }
  /** The provider held the piece but did not publish: the client put the deal on chain itself. */
  | { stage: "selfPublished"; dealId: bigint; txHash: Hex };

/**
 * How an erasure-coded store reports: `onEncoding` as `encoding` events (file bytes encoded), and
 * `options(i)` — piece i's store options, with `providers[i]` and upload events carrying `piece: i`.
 */
export function perPieceOptions(
  options: Omit<StoreOptions, "provider">,
  providers: Address[],
): { onEncoding: (done: number, total: number) => void; options: (piece: number) => StoreOptions } {
  const report = options.onProgress;
  return {
    onEncoding: (done, total) => report?.({ stage: "encoding", done, total }),
    options: (piece) => ({
      ...options,
      provider: providers[piece],
      onProgress: report && ((e) => report(e.stage === "upload" ? { ...e, piece } : e)),
    }),
  };
}

/** A published direct storage deal. */
export interface StoredDeal {
  dealId: bigint;
  proposalHash: Hex;
  pieceCid: string;
  txHash: Hex;
  provider: Address;
  proposal: StorageDealProposal;
}

/** Dependencies of {@link StorageClient}. */
export interface StorageClientComponents {
  clients: ChainClients;
  contracts: MarketContracts;
  store: ClientStore;
  logger: Logger;
}

/**
 * The provider's registry entry (endpoint, asks).
 *
 * @throws ProviderNotRegisteredError when `address` is not in ProviderRegistry.
 */
export async function lookupProvider(
  c: Pick<StorageClientComponents, "clients" | "contracts">,
  address: Address,
): Promise<RegisteredProvider> {
  const provider = await getProvider(c.clients, c.contracts, address);
  if (!provider) throw new ProviderNotRegisteredError("provider is not registered", { details: { provider: address } });
  return provider;
}

/** A deal's proposal after `StorageClient.extendProposal`: now the deal's on chain. */
export type ExtendedProposal = { proposal: StorageDealProposal; clientSignature: Hex; proposalHash: Hex; txHash: Hex };
