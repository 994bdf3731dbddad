import type { Address, Hex } from "viem";
import type { Logger } from "../core/logger";
import type { RepairProgress } from "./repair-client";
import type { StoreProgress } from "./storage-common";

/**
 * Seed 001's `RegisterListener(Listener)` for the client: one hub that every client operation
 * (store, extend, repair-backed store, retrieve) reports to, in addition to its per-call
 * `onProgress`. A caller registers once and hears every event of every deal across calls.
 *
 * Units as in the progress types: sizes and byte counts in bytes, amounts in token base units,
 * epochs in blocks.
 */
export type ClientEvent =
  /** A step of a direct store (`StorageClient.storeFile`, also each piece of an erasure-coded file). */
  | { kind: "store"; filePath: string; provider: Address; progress: StoreProgress }
  /** A direct deal renewed (`StorageClient.extendDeal`). */
  | { kind: "extend"; dealId: bigint; endEpoch: bigint; txHash: Hex }
  /** A step of a repair-backed store (`RepairClient.store`). */
  | { kind: "repair"; filePath: string; progress: RepairProgress }
  /** A seed 004 event line of a paid retrieval (`RetrievalClient`), by retrieval id. */
  | { kind: "retrieve"; retrievalId: string; target: string; line: string };

/** A listener of {@link ClientEvents}. */
export type ClientEventListener = (event: ClientEvent) => void;

/**
 * The listener registry. Listeners run synchronously, in registration order; one that throws is
 * logged (warn) and skipped, and neither the operation nor the other listeners see its error.
 */
export class ClientEvents {
  private readonly listeners = new Set<ClientEventListener>();

  constructor(private readonly logger?: Logger) {}

  /**
   * Registers `listener` for every event from now on.
   *
   * @returns A function that unregisters it (calling it twice is harmless).
   */
  subscribe(listener: ClientEventListener): () => void {
    // A wrapper per registration, so the same function registered twice is two registrations.
    const entry: ClientEventListener = (e) => listener(e);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  /** Number of registered listeners. */
  get size(): number {
    return this.listeners.size;
  }

  /** Hands `event` to every listener; never throws. */
  emit(event: ClientEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (err) {
        this.logger?.warn({ err, event: event.kind }, "a client event listener threw; ignored");
      }
    }
  }
}
