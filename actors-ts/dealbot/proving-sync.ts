import type { Address } from "viem";
import { DEFAULT_LOG_LIMITS, type LogLimits } from "../chain/log-scan";
import type { ChainClients } from "../chain/clients";
import {
  MAX_PROVING_LOG_RANGE_BLOCKS,
  firstBlockAtOrAfter,
  provingEvents,
} from "../chain/storage-market/proving-events";
import { InvalidArgumentError } from "../core/errors";
import type { ControllerStore } from "./controller-store";

/** How the controller follows the chain's proving record. */
export interface ProvingSyncConfig {
  /** Blocks per `eth_getLogs` range, 1 to `MAX_PROVING_LOG_RANGE_BLOCKS` (2,000). */
  chunkBlocks: bigint;
  /** The reputation window, ms: a first read starts at the first block inside it. */
  windowMs: number;
  /** Clock, ms since the epoch. */
  now: () => number;
}

/** What one sync read: blocks [fromBlock, toBlock] (empty when fromBlock > toBlock) and how many events. */
export interface ProvingSyncResult {
  fromBlock: bigint;
  toBlock: bigint;
  events: number;
}

/**
 * Copies StorageMarket's `PossessionProven` and `FaultRecorded` into the controller's SQLite
 * (decisions 33): from the cursor kept there, in ranges of at most `chunkBlocks`, each range
 * stored with the cursor in one transaction, so a refresh reads only the blocks mined since the
 * last one and a crash mid-way loses nothing. The first sync starts at the first block inside the
 * window, found by binary search, not at block 0, and never further back than the clients' log
 * lookback (a window longer than the lookback counts only its readable part). A cursor past the chain head means the chain
 * was reset under the controller: the market's events are dropped and the read starts over.
 */
export class ProvingSync {
  private inFlight?: Promise<ProvingSyncResult>;

  /**
   * @throws InvalidArgumentError when `chunkBlocks` is outside 1 to 2,000.
   */
  constructor(
    private readonly store: ControllerStore,
    private readonly chain: Pick<ChainClients, "public"> & { logLimits?: LogLimits },
    /** The StorageMarket contract. */
    readonly market: Address,
    private readonly config: ProvingSyncConfig,
  ) {
    if (config.chunkBlocks < 1n || config.chunkBlocks > MAX_PROVING_LOG_RANGE_BLOCKS)
      throw new InvalidArgumentError("proving sync: chunkBlocks must be 1 to 2000", {
        details: { chunkBlocks: config.chunkBlocks },
      });
  }

  /**
   * Reads up to the chain head; concurrent calls share one read. Stops between ranges once
   * `signal` aborts (what was read is kept).
   *
   * @throws viem's RPC errors (the cursor stays after the last range stored).
   */
  sync(signal?: AbortSignal): Promise<ProvingSyncResult> {
    this.inFlight ??= this.read(signal).finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async read(signal?: AbortSignal): Promise<ProvingSyncResult> {
    const head = await this.chain.public.getBlockNumber();
    let cursor = this.store.provingCursor(this.market);
    if (cursor !== undefined && cursor > head + 1n) {
      this.store.resetProving(this.market);
      cursor = undefined;
    }
    let from = cursor ?? (await firstBlockAtOrAfter(this.chain, this.config.now() - this.config.windowMs, head));
    // Never further back than the endpoint serves logs: older proving history is not counted.
    const lookback = (this.chain.logLimits ?? DEFAULT_LOG_LIMITS).lookbackBlocks;
    if (head > lookback && from < head - lookback) from = head - lookback;
    const start = from;
    let events = 0;
    // Nothing to read yet (no block inside the window): keep the place, so the search is not repeated.
    if (from > head) this.store.addProvingEvents(this.market, [], from);
    while (from <= head && !signal?.aborted) {
      const to: bigint = from + this.config.chunkBlocks - 1n < head ? from + this.config.chunkBlocks - 1n : head;
      const chunk = await provingEvents(this.chain, this.market, from, to);
      this.store.addProvingEvents(this.market, chunk, to + 1n);
      events += chunk.length;
      from = to + 1n;
    }
    return { fromBlock: start, toBlock: from - 1n, events };
  }
}
