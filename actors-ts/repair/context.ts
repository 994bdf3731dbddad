import type { BlobStore } from "../core/blob-store";
import type { Logger } from "../core/logger";
import type { ChainClients } from "../chain/clients";
import type { MarketContracts } from "../chain/contracts";
import type { ErasurePool } from "../erasure/erasure-pool";
import type { StorageClient } from "../client/storage-client";
import type { ClientStore } from "../client/client-store";
import type { RetrievalLedger } from "../client/retrieval/retrieval-ledger";
import type { RepairConfig } from "./config";
import type { RepairStore } from "./repair-store";

/** Everything the repair daemon's components share. */
export interface RepairContext {
  config: RepairConfig;
  store: RepairStore;
  /** Piece bytes held by the miner: intake uploads and rebuilt pieces, keyed by CommP root. */
  blobs: BlobStore;
  clients: ChainClients;
  contracts: MarketContracts;
  logger: Logger;
  pool: ErasurePool;
  /** The miner as a storage client of providers (its worker key signs the proposals). */
  storage: StorageClient;
  /** The miner's storage-client and retrieval records (deals, payment channels). */
  clientStore: ClientStore;
  ledger: RetrievalLedger;
  minerId: bigint;
  askId: bigint;
  params: { provingPeriodEpochs: bigint };
  /** First block that can hold the contracts' events. */
  deployBlock: bigint;
  /**
   * Providers not to choose for new placements, lower-case address → until (ms since the epoch):
   * found unreachable by the placer, or holding a piece whose storage deal faulted.
   */
  avoidProviders: Map<string, number>;
  /**
   * Providers whose storage deal of a piece faulted, lower-case address → until (ms since the
   * epoch): skipped for new placements until then, or until their proof set proves again — one
   * missed period must not shut a live provider out for good.
   */
  faultedProviders: Map<string, number>;
  /** Scores from the dealbots' reputation feed, lower-case address → [0, 1] (empty without a feed). */
  fedScores: Map<string, number>;
  /** Wakes the placement and repair workers early. */
  wake(): void;
}
