import type { Logger } from "../core/logger";
import type { LoopHealth } from "../core/loop-health";
import type { ChainGuard } from "../chain/chain-guard";
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

/**
 * The services a provider's parts share, made once by the daemon. Each part takes the `Pick` of
 * these it uses and the `Pick` of {@link ProviderInit} it reads (`(components, init)`), so what a
 * part can touch is in its constructor's type.
 */
export interface ProviderComponents {
  store: ProviderStore;
  blobs: BlobStore;
  clients: ChainClients;
  contracts: MarketContracts;
  logger: Logger;
  metrics: ProviderMetrics;
  /** Every periodic loop runs through it (`loops.run`): health records, and no rounds while halted. */
  loops: LoopHealth;
  /** Keeps the provider on the deployment's chain: halts it when the chain is reset under it. */
  chainGuard: ChainGuard;
}

/** A provider part's settings: the daemon's configuration and the market's proving parameters. */
export type ProviderInit = ProviderConfig & ProvingParams;
