import { open, type FileHandle } from "node:fs/promises";
import { toHex, type Address, type Hex } from "viem";
import { sleep } from "../../core/abort";
import { RepairMarketError } from "../../core/errors";
import { httpCall } from "../../core/http-client";
import type { Logger } from "../../core/logger";
import { signRequest } from "../../core/signed-request";
import type { ChainClients } from "../../chain/clients";
import type { MarketContracts } from "../../chain/contracts";
import { createChannel, fundChannel, getChannel } from "../../chain/payment-channels/actions";
import { encodeVoucherHeader, plainVoucher, signVoucher } from "../../chain/payment-channels/vouchers";
import type { RegisteredProvider } from "../../chain/registry/reads";
import { CHUNK_LOG2_LEAVES, CHUNK_PAYLOAD_BYTES } from "../../piece/constants";
import { CommPHasher, pieceGeometry } from "../../piece/commp";
import { PieceTreeCache } from "../../piece/piece-proof";
import { PROVIDER_PATHS, VOUCHER_HEADER } from "../../protocol/provider-api";

/** The payment route's answer is not used; any JSON will do. */
import type { PieceFetchRow, RetrievalLedger } from "./retrieval-ledger";
import { openRetrieval, payRetrieval } from "../../protocol/provider-client";

/** Bytes from a provider do not match the piece commitment (seed 003: evidence of cheating). */
export class PieceCommitmentMismatchError extends RepairMarketError {
  override name = "PieceCommitmentMismatchError" as const;
}

/** One piece to fetch from one provider. */
export interface FetchTarget {
  provider: RegisteredProvider;
  pieceIndex: number;
  /** PieceCID v2. */
  pieceCid: string;
  /** CommP root. */
  root: Hex;
  payloadSize: number;
}

/** A progress event in the dealbot's words: "Recv: N B, Paid X, <Event> (<Status>)". */
export interface RetrievalEvent {
  received: number;
  paid: bigint;
  event: string;
  status: string;
  detail?: string;
}

/** Formats a {@link RetrievalEvent} as seed 004's event list does. */
export function formatEvent(e: RetrievalEvent): string {
  return `Recv: ${e.received} B, Paid ${e.paid}, ${e.event} (${e.status})${e.detail ? ` ${e.detail}` : ""}`;
}

export interface FetchOptions {
  signal?: AbortSignal;
  /** No bytes for this long fails the fetch (a slow provider is replaced, not waited for). */
  stallTimeoutMs?: number;
  onEvent?: (event: RetrievalEvent) => void;
  /** Called with each batch of bytes received. */
  onBytes?: (bytes: number) => void;
  /** Cap on download speed, bytes per second (default: unlimited). */
  maxBytesPerSecond?: number;
}

export interface FetchDeps {
  clients: ChainClients;
  contracts: MarketContracts;
  ledger: RetrievalLedger;
  logger: Logger;
}

/**
 * Seed 001's RetrievalClient for one piece from one provider, paid through a payment channel:
 * opens (or reuses) a channel and a retrieval deal, then fetches an interval at a time, sending
 * with each request a voucher that pays for every byte received before it. Every 2^15-leaf chunk
 * is checked against the piece commitment as soon as it is complete (the chunk roots themselves
 * are checked against the root first), so a bad provider is caught early and a restart resumes
 * from the last verified chunk. Vouchers are recorded before they are sent: nothing is paid twice.
 */
export class PieceFetcher {
  constructor(private readonly deps: FetchDeps) {}

  /**
   * Fetches the whole piece into `tempPath` (resuming a recorded fetch when one exists).
   *
   * @returns Token base units paid on this fetch's lane in total.
   * @throws PieceCommitmentMismatchError, PeerUnreachableError, PeerRejectedError.
   */
  async fetch(retrievalId: string, target: FetchTarget, tempPath: string, options: FetchOptions = {}): Promise<bigint> {
    const { ledger } = this.deps;
    const provider = target.provider;
    let row: PieceFetchRow = ledger.fetch(retrievalId, target.pieceIndex, provider.address) ?? {
      retrievalId,
      pieceIndex: target.pieceIndex,
      provider: provider.address,
      pieceCid: target.pieceCid,
      startOffset: 0,
      endOffset: target.payloadSize,
      pricePerByte: provider.retrievalAsk.pricePerByte,
      verifiedBytes: 0,
      status: "running",
      tempPath,
    };
    const emit = (event: string, status: string, detail?: string) =>
      options.onEvent?.({
        received: row.verifiedBytes,
        paid: row.channelId !== undefined && row.lane !== undefined ? ledger.lane(row.channelId, row.lane).amount : 0n,
        event,
        status,
        detail,
      });
    if (!row.providerRetrievalId) {
      emit("ClientEventOpen", "DealStatusNew");
      const channelId = await this.ensureChannel(provider.address, row.pricePerByte * BigInt(target.payloadSize), emit);
      const opened = await openRetrieval(this.deps.clients.account, provider, {
        pieceCid: target.pieceCid,
        channelId: channelId.toString(),
      });
      row = {
        ...row,
        providerRetrievalId: opened.retrievalId,
        channelId,
        lane: BigInt(opened.lane),
        startOffset: opened.startOffset,
        endOffset: opened.endOffset,
        pricePerByte: BigInt(opened.pricePerByte),
      };
      ledger.upsertFetch(row);
      emit("ClientEventDealAccepted", "DealStatusAccepted");
      emit("ClientEventLaneAllocated", "DealStatusOngoing", `lane ${opened.lane} of channel ${channelId}`);
    }
    const verifier = (await this.chunkVerifier(target)).startAt(row.verifiedBytes);
    const handle = await open(tempPath, row.verifiedBytes > 0 ? "r+" : "w");
    try {
      row = await this.transfer(row, target, handle, verifier, options, emit);
    } finally {
      await handle.close();
    }
    const lane = row.lane as bigint;
    const channelId = row.channelId as bigint;
    const owed = row.pricePerByte * BigInt(row.endOffset - row.startOffset);
    if (ledger.lane(channelId, lane).amount < owed) {
      const voucher = await this.voucher(channelId, lane, owed);
      await payRetrieval(this.deps.clients.account, provider, row.providerRetrievalId as string, voucher);
    }
    row.status = "verified";
    ledger.upsertFetch(row);
    emit("ClientEventComplete", "DealStatusCompleted");
    return ledger.lane(channelId, lane).amount;
  }

  private async transfer(
    start: PieceFetchRow,
    target: FetchTarget,
    handle: FileHandle,
    verifier: ChunkVerifier,
    options: FetchOptions,
    emit: (event: string, status: string, detail?: string) => void,
  ): Promise<PieceFetchRow> {
    const { ledger } = this.deps;
    let row = { ...start };
    let position = row.verifiedBytes;
    const id = row.providerRetrievalId as string;
    const started = Date.now();
    let pulled = 0;
    while (position < row.endOffset) {
      const headers: Record<string, string> = {};
      const owed = row.pricePerByte * BigInt(position - row.startOffset);
      if (position > row.startOffset) {
        headers[VOUCHER_HEADER] = encodeVoucherHeader(
          await this.voucher(row.channelId as bigint, row.lane as bigint, owed),
        );
        emit("ClientEventPaymentSent", "DealStatusOngoing");
      }
      const path = `${PROVIDER_PATHS.retrievalData(id)}?offset=${position}`;
      const signed = await signRequest(this.deps.clients.account, {
        method: "GET",
        path,
        audience: target.provider.address,
      });
      const response = await httpCall(
        {
          method: "GET",
          url: target.provider.endpoint + path,
          headers: { ...signed, ...headers },
          headersTimeoutMs: options.stallTimeoutMs ?? 30_000,
          bodyTimeoutMs: options.stallTimeoutMs ?? 30_000,
          signal: options.signal,
        },
        { peer: target.provider.address, stage: `fetch piece ${target.pieceIndex}` },
      );
      for await (const data of response.body) {
        const chunk = data as Buffer;
        await handle.write(chunk, 0, chunk.length, position);
        position += chunk.length;
        options.onBytes?.(chunk.length);
        pulled += chunk.length;
        if (options.maxBytesPerSecond) {
          const due = started + (pulled / options.maxBytesPerSecond) * 1000;
          if (due > Date.now()) await sleep(due - Date.now());
        }
        const verifiedTo = verifier.push(chunk);
        if (verifiedTo > row.verifiedBytes) {
          row = { ...row, verifiedBytes: verifiedTo };
          ledger.upsertFetch(row);
        }
      }
      emit("ClientEventBlocksReceived", "DealStatusOngoing", `${position} of ${row.endOffset} bytes`);
    }
    await handle.sync();
    return row;
  }

  /** Signs the next voucher on a lane for at least `amount`, recording it first. */
  private async voucher(channelId: bigint, lane: bigint, amount: bigint) {
    const { clients, contracts, ledger } = this.deps;
    const last = ledger.lane(channelId, lane);
    const next = plainVoucher(channelId, lane, last.nonce + 1n, amount > last.amount ? amount : last.amount);
    ledger.recordVoucher(channelId, lane, next.nonce, next.amount);
    return signVoucher(clients.account, clients.chain.id, contracts.paymentChannels, next);
  }

  /** A channel to `provider` able to cover `needed` more, created or topped up as needed. */
  private async ensureChannel(
    provider: Address,
    needed: bigint,
    emit: (event: string, status: string, detail?: string) => void,
  ): Promise<bigint> {
    const { clients, contracts, ledger } = this.deps;
    for (const channelId of ledger.channelsTo(provider)) {
      const channel = await getChannel(clients, contracts, channelId);
      if (channel.collected || channel.settlingAt !== 0n) continue;
      const available = channel.funds - ledger.promised(channelId);
      if (available < needed) {
        emit("ClientEventPaymentChannelAddingFunds", "DealStatusPaymentChannelAddingFunds");
        await fundChannel(clients, contracts, channelId, needed - available);
      }
      return channelId;
    }
    emit("ClientEventPaymentChannelCreating", "DealStatusPaymentChannelCreating");
    const { channelId } = await createChannel(clients, contracts, provider, needed > 0n ? needed : 1n);
    ledger.addChannel(channelId, provider);
    return channelId;
  }

  private async chunkVerifier(target: FetchTarget): Promise<ChunkVerifier> {
    const { height } = pieceGeometry(target.payloadSize);
    if (height <= CHUNK_LOG2_LEAVES) return new ChunkVerifier(target, undefined);
    const response = await httpCall(
      { method: "GET", url: target.provider.endpoint + PROVIDER_PATHS.pieceTree(target.pieceCid) },
      { peer: target.provider.address, stage: `fetch chunk roots of piece ${target.pieceIndex}` },
    );
    const bytes = new Uint8Array(await response.body.arrayBuffer());
    let cache: PieceTreeCache;
    try {
      cache = PieceTreeCache.deserialize(bytes, height);
    } catch (cause) {
      throw new PieceCommitmentMismatchError("provider sent malformed chunk roots", {
        details: { provider: target.provider.address, pieceIndex: target.pieceIndex },
        cause,
      });
    }
    if (toHex(cache.root) !== target.root.toLowerCase()) {
      throw new PieceCommitmentMismatchError("provider's chunk roots do not lead to the piece commitment", {
        details: {
          provider: target.provider.address,
          pieceIndex: target.pieceIndex,
          expected: target.root,
          actual: toHex(cache.root),
        },
      });
    }
    return new ChunkVerifier(target, cache.chunkRoots);
  }
}

/**
 * Checks a piece chunk by chunk while it streams in: each 1,040,384-byte chunk's subtree root
 * (the last chunk zero-padded) must equal the verified chunk root; a piece of one chunk or less is
 * checked whole at its end.
 */
class ChunkVerifier {
  private buffer: Buffer;
  private filled = 0;
  private chunkIndex = 0;

  constructor(
    private readonly target: FetchTarget,
    private readonly chunkRoots: Uint8Array[] | undefined,
  ) {
    this.buffer = Buffer.alloc(Math.min(CHUNK_PAYLOAD_BYTES, target.payloadSize));
  }

  /** Starts at `offset`, a chunk boundary (where a resumed fetch picks up). */
  startAt(offset: number): this {
    this.chunkIndex = Math.floor(offset / CHUNK_PAYLOAD_BYTES);
    this.filled = 0;
    return this;
  }

  /**
   * Takes the next bytes of the piece; returns the offset up to which it is verified.
   *
   * @throws PieceCommitmentMismatchError
   */
  push(bytes: Buffer): number {
    let consumed = 0;
    let verifiedTo = this.chunkIndex * CHUNK_PAYLOAD_BYTES;
    while (consumed < bytes.length) {
      const chunkStart = this.chunkIndex * CHUNK_PAYLOAD_BYTES;
      const chunkLength = Math.min(CHUNK_PAYLOAD_BYTES, this.target.payloadSize - chunkStart);
      const take = Math.min(chunkLength - this.filled, bytes.length - consumed);
      bytes.copy(this.buffer, this.filled, consumed, consumed + take);
      this.filled += take;
      consumed += take;
      if (this.filled === chunkLength) {
        this.check(this.buffer.subarray(0, chunkLength));
        verifiedTo = chunkStart + chunkLength;
        this.chunkIndex++;
        this.filled = 0;
      }
    }
    return verifiedTo;
  }

  private check(chunk: Uint8Array): void {
    let actual: Uint8Array;
    let expected: Uint8Array;
    if (!this.chunkRoots) {
      actual = new CommPHasher().update(chunk).digest().root;
      expected = Buffer.from(this.target.root.slice(2), "hex");
    } else {
      let chunkRoot: Uint8Array | undefined;
      new CommPHasher({ onChunkRoot: (_i, r) => (chunkRoot ??= r) }).update(chunk).digest();
      actual = chunkRoot as Uint8Array;
      expected = this.chunkRoots[this.chunkIndex];
    }
    if (!expected || toHex(actual) !== toHex(expected)) {
      throw new PieceCommitmentMismatchError("piece bytes do not match the commitment", {
        details: {
          provider: this.target.provider.address,
          pieceIndex: this.target.pieceIndex,
          pieceCid: this.target.pieceCid,
          chunk: this.chunkIndex,
          expected: expected ? toHex(expected) : "none",
          actual: toHex(actual),
        },
      });
    }
  }
}
