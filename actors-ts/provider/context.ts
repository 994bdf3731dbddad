import type { Logger } from "../core/logger";
import type { BlobStore } from "../core/blob-store";
import type { ChainClients } from "../chain/clients";
import type { MarketContracts } from "../chain/contracts";
import type { ProviderConfig } from "./config";
import type { ProviderMetrics } from "./metrics";
import type { ProviderStore } from "./provider-store";

/** StorageMarket parameters the provider needs, read once at start. */
export interface ProvingParams {
  provingPeriodEpochs: bigint;
  challengeWindowEpochs: bigint;
  challengesPerProof: number;
  maxDealDurationEpochs: bigint;
}

/** Everything the provider's components share (constructor dependencies). */
export interface ProviderContext {
  config: ProviderConfig;
  store: ProviderStore;
  blobs: BlobStore;
  clients: ChainClients;
  contracts: MarketContracts;
  params: ProvingParams;
  logger: Logger;
  metrics: ProviderMetrics;
}
