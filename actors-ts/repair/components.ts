import type { BlobStore } from "../core/blob-store";
import type { Logger } from "../core/logger";
import type { LoopHealth } from "../core/loop-health";
import type { ChainGuard } from "../chain/chain-guard";
import type { ChainClients } from "../chain/clients";
import type { MarketContracts } from "../chain/contracts";
import type { ErasurePool } from "../erasure/erasure-pool";
import type { StorageClient } from "../client/storage-client";
import type { ClientStore } from "../client/client-store";
import type { RetrievalLedger } from "../client/retrieval/retrieval-ledger";
import type { ProviderHealth } from "./provider-health";
import type { RepairStore } from "./repair-store";

/**
 * The services a repair miner's parts share, made once by the daemon. Each part takes the
 * `Pick` of these it uses plus an `init` of its own settings (`(components, init)`, as the
 * provider's parts do), so what a part can touch is in its constructor's type.
 */
export interface RepairComponents {
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
  /** What the miner has learnt about providers while it runs (unreachable, faulted, fed scores). */
  providers: ProviderHealth;
  /** Wakes the placement and repair loops early. */
  wake(): void;
  /** Every periodic loop runs through it (`loops.run`): health records, and no rounds while halted. */
  loops: LoopHealth;
  /** Keeps the miner on the deployment's chain: halts it when the chain is reset under it. */
  chainGuard: ChainGuard;
}

/** Facts the daemon learns at start-up that its parts need. */
export interface RepairStartup {
  /** The miner's id in RepairMarket (found by its worker, or created). */
  minerId: bigint;
  /** StorageMarket's proving period, epochs. */
  provingPeriodEpochs: bigint;
  /** First block that can hold the contracts' events. */
  deployBlock: bigint;
}
