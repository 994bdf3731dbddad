import { open, type FileHandle } from "node:fs/promises";
import type { Dispatcher } from "undici";
import type { Address, Hex } from "viem";
import { sleep } from "../../core/abort";
import { PeerRejectedError, httpCall } from "../../core/http-client";
import type { Logger } from "../../core/logger";
import { signRequest } from "../../core/signed-request";
import type { ChainClients } from "../../chain/clients";
import type { MarketContracts } from "../../chain/contracts";
import { createChannel, fundChannel, getChannel } from "../../chain/payment-channels/actions";
import { encodeVoucherHeader, plainVoucher, signVoucher } from "../../chain/payment-channels/vouchers";
import type { RegisteredProvider } from "../../chain/registry/reads";
import { PROVIDER_PATHS, VOUCHER_HEADER, paymentIntervalBytes } from "../../protocol/provider-api";
import type { PieceFetchRow, RetrievalLedger } from "./retrieval-ledger";
import { openRetrieval, payRetrieval } from "../../protocol/provider-client";
import { ChannelBook, processChannelBook } from "./channel-book";
import { chunkVerifierFor } from "./chunk-verifier";
import { WriteBatch } from "./write-batch";
import { spanVerifierFor, type PieceSpan } from "./span-verifier";
import { planVerifierFor } from "./plan-verifier";
import { isCreditRefusal, max0, streamEnd, termsOfAsk, type IntervalTerms } from "./fetch-rules";
import type { SubChunkPlan } from "../../piece/subchunk-proof";
import type { ErasurePool } from "../../erasure/erasure-pool";

export { PieceCommitmentMismatchError } from "./chunk-verifier";
export { formatEvent, type RetrievalEvent } from "./retrieval-events";
import type { RetrievalEvent } from "./retrieval-events";

/** One piece to fetch from one provider. */
export interface FetchTarget {
  provider: RegisteredProvider;
  pieceIndex: number;
  /** PieceCID v2. */
  pieceCid: string;
  /** CommP root. */
  root: Hex;
  payloadSize: number;
  /** Only these payload bytes (quad-aligned, see `quadSpan`), paid and checked alone; default the whole piece. */
  span?: PieceSpan;
  /** Instead: a sub-chunk plan's stream (piece/subchunk-proof.ts), written raw to the temp file. */
  plan?: SubChunkPlan;
}

/** Checks bytes of a piece as they stream in; returns the payload offset verified so far. */
interface StreamVerifier {
  push(bytes: Buffer): number | Promise<number>;
  /** Waits for checks still running (chunks hashed on the pool); the offset verified. */
  settle?(): Promise<number>;
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
  /** Called when more bytes are verified and written: the payload offset verified up to. */
  onVerified?: (verifiedTo: number) => void;
}

export interface FetchDeps {
  clients: ChainClients;
  contracts: MarketContracts;
  ledger: RetrievalLedger;
  logger: Logger;
  /** What the fetches side by side agree on (default: the one book of this process). */
  channels?: ChannelBook;
  /** Where whole-piece fetches hash their chunks (default: the event loop's thread). */
  pool?: ErasurePool;
}

type Emit = (event: string, status: string, detail?: string) => void;

/** How one fetch pays: after each interval, on the provider's credit, or each one in advance. */
interface PaymentPlan {
  /** Pay for each interval in the request that asks for it (no credit taken). */
  advance: boolean;
  /** Data requests answered in this run: numbers the next interval. */
  requests: number;
  terms: IntervalTerms;
  /** Gives the provider's credit back to the book (idempotent). */
  release(): void;
}

/**
 * Seed 001's RetrievalClient for one piece from one provider, paid through a payment channel:
 * opens (or reuses) a channel and a retrieval deal, then fetches an interval at a time. The fetch
 * holding the provider's credit (one per provider in this process, see {@link ChannelBook}) sends
 * with each request a voucher paying for every byte received before it; a fetch running beside
 * it pays for each interval in the request that asks for it, as does one the provider refuses
 * credit. Every 2^15-leaf chunk is checked against the piece commitment as soon as it is complete
 * (the chunk roots themselves are checked against the root first), so a bad provider is caught
 * early and a restart resumes from the last verified chunk. Vouchers are recorded before they are
 * sent and never pay beyond the range: nothing is paid twice.
 */
export class PieceFetcher {
  private readonly book: ChannelBook;

  constructor(private readonly deps: FetchDeps) {
    this.book = deps.channels ?? processChannelBook;
  }

  /**
   * Fetches the whole piece into `tempPath` (resuming a recorded fetch when one exists).
   *
   * @returns Token base units paid on this fetch's lane in total.
   * @throws PieceCommitmentMismatchError, PeerUnreachableError, PeerRejectedError.
   */
  async fetch(retrievalId: string, target: FetchTarget, tempPath: string, options: FetchOptions = {}): Promise<bigint> {
    const { ledger } = this.deps;
    const { provider } = target;
    const payer = this.deps.clients.account.address;
    // A recorded fetch is resumed only when it is this stream into this file: under one retrieval
    // a repair may fetch a piece's sub-chunk plan and later the whole piece from the same holder.
    const recorded = ledger.fetch(retrievalId, target.pieceIndex, provider.address);
    const same =
      recorded !== undefined &&
      recorded.tempPath === tempPath &&
      recorded.startOffset === (target.span?.start ?? 0) &&
      recorded.endOffset === streamEnd(target);
    let row: PieceFetchRow = (same ? recorded : undefined) ?? {
      retrievalId,
      pieceIndex: target.pieceIndex,
      provider: provider.address,
      pieceCid: target.pieceCid,
      startOffset: target.span?.start ?? 0,
      endOffset: streamEnd(target),
      pricePerByte: provider.retrievalAsk.pricePerByte,
      verifiedBytes: 0,
      status: "running",
      tempPath,
    };
    const emit: Emit = (event, status, detail) =>
      options.onEvent?.({
        received: row.verifiedBytes,
        paid: row.channelId !== undefined && row.lane !== undefined ? ledger.lane(row.channelId, row.lane).amount : 0n,
        event,
        status,
        detail,
      });
    let terms = termsOfAsk(provider);
    const releases: (() => void)[] = [];
    try {
      if (!row.providerRetrievalId) {
        ({ row, terms } = await this.book.exclusive(payer, provider.address, async () => {
          const opened = await this.open(row, target, emit);
          releases.push(this.reserve(opened.row));
          return opened;
        }));
        emit("ClientEventDealAccepted", "DealStatusAccepted");
        emit("ClientEventLaneAllocated", "DealStatusOngoing", `lane ${row.lane} of channel ${row.channelId}`);
      } else {
        releases.push(this.reserve(row));
      }
      let verifier: StreamVerifier;
      if (target.plan) {
        const resumed = await planVerifierFor({ ...target, plan: target.plan }, row.verifiedBytes);
        ({ verifier } = resumed);
        row = { ...row, verifiedBytes: resumed.startAt };
      } else if (target.span) {
        verifier = (await spanVerifierFor(target, target.span)).startAt(row.startOffset + row.verifiedBytes);
      } else {
        verifier = (await chunkVerifierFor(target, this.deps.pool)).startAt(row.verifiedBytes);
      }
      const credit = this.book.takeCredit(payer, provider.address);
      const plan: PaymentPlan = { advance: !credit, requests: 0, terms, release: credit ?? (() => undefined) };
      releases.push(plan.release);
      row = await this.transferInto(tempPath, row, target, verifier, options, emit, plan);
      // The last interval is paid before the credit is given back.
      await this.payRest(row, provider);
    } finally {
      for (const release of releases) release();
    }
    row.status = "verified";
    ledger.upsertFetch(row);
    emit("ClientEventComplete", "DealStatusCompleted");
    return ledger.lane(row.channelId as bigint, row.lane as bigint).amount;
  }

  /** Chooses or creates a channel, opens the retrieval deal on it and records its lane. */
  private async open(
    start: PieceFetchRow,
    target: FetchTarget,
    emit: Emit,
  ): Promise<{ row: PieceFetchRow; terms: IntervalTerms }> {
    emit("ClientEventOpen", "DealStatusNew");
    const { provider } = target;
    const span = target.span ?? { start: 0, end: streamEnd(target) };
    const bytes = span.end - span.start;
    const channelId = await this.ensureChannel(provider.address, start.pricePerByte * BigInt(bytes), emit);
    const opened = await openRetrieval(this.deps.clients.account, provider, {
      pieceCid: target.pieceCid,
      channelId: channelId.toString(),
      ...(target.span ? { offset: span.start, length: bytes } : {}),
      ...(target.plan ? { plan: target.plan } : {}),
    });
    if (opened.startOffset !== span.start || opened.endOffset !== span.end) {
      throw new PeerRejectedError(200, "InvalidResponse", "provider opened another range than the one asked for", {
        provider: provider.address,
        asked: `${span.start}-${span.end}`,
        opened: `${opened.startOffset}-${opened.endOffset}`,
      });
    }
    const row: PieceFetchRow = {
      ...start,
      providerRetrievalId: opened.retrievalId,
      channelId,
      lane: BigInt(opened.lane),
      startOffset: opened.startOffset,
      endOffset: opened.endOffset,
      pricePerByte: BigInt(opened.pricePerByte),
    };
    this.deps.ledger.upsertFetch(row);
    return { row, terms: opened };
  }

  /** Counts the fetch's whole price against its channel's funds while it runs (see ensureChannel). */
  private reserve(row: PieceFetchRow): () => void {
    const cost = row.pricePerByte * BigInt(row.endOffset - row.startOffset);
    return this.book.reserve(row.channelId as bigint, row.lane as bigint, cost);
  }

  private async transferInto(
    tempPath: string,
    row: PieceFetchRow,
    target: FetchTarget,
    verifier: StreamVerifier,
    options: FetchOptions,
    emit: Emit,
    plan: PaymentPlan,
  ): Promise<PieceFetchRow> {
    const handle = await open(tempPath, row.verifiedBytes > 0 ? "r+" : "w");
    try {
      return await this.transfer(row, target, handle, verifier, options, emit, plan);
    } finally {
      await handle.close();
    }
  }

  private async transfer(
    start: PieceFetchRow,
    target: FetchTarget,
    handle: FileHandle,
    verifier: StreamVerifier,
    options: FetchOptions,
    emit: Emit,
    plan: PaymentPlan,
  ): Promise<PieceFetchRow> {
    const { ledger } = this.deps;
    let row = { ...start };
    let position = row.startOffset + row.verifiedBytes;
    if (row.verifiedBytes > 0) options.onVerified?.(position); // a resumed fetch's verified prefix
    const started = Date.now();
    let pulled = 0;
    while (position < row.endOffset) {
      let response: Dispatcher.ResponseData;
      try {
        response = await this.request(row, target, position, plan, options, emit);
      } catch (err) {
        if (plan.advance || !isCreditRefusal(err)) throw err;
        plan.advance = true;
        plan.release();
        emit("ClientEventPaymentRequested", "DealStatusFundsNeeded", "no credit left: paying each interval in advance");
        continue;
      }
      plan.requests++;
      // Bytes are written in ~1 MiB batches (a write per 64 KiB chunk bound the fetch), each on
      // disk before its bytes are recorded verified: a restart resumes from written bytes.
      const batch = new WriteBatch(handle, position);
      const advance = async (verifiedTo: number): Promise<void> => {
        if (verifiedTo - row.startOffset <= row.verifiedBytes) return;
        await batch.flush();
        row = { ...row, verifiedBytes: verifiedTo - row.startOffset };
        ledger.upsertFetch(row);
        options.onVerified?.(verifiedTo);
      };
      for await (const data of response.body) {
        const chunk = data as Buffer;
        await batch.add(chunk);
        position += chunk.length;
        options.onBytes?.(chunk.length);
        pulled += chunk.length;
        if (options.maxBytesPerSecond) {
          const due = started + (pulled / options.maxBytesPerSecond) * 1000;
          if (due > Date.now()) await sleep(due - Date.now());
        }
        await advance(await verifier.push(chunk));
      }
      // Every chunk of the interval is checked before the next one is asked (and paid) for.
      if (verifier.settle) await advance(await verifier.settle());
      await batch.flush();
      emit("ClientEventBlocksReceived", "DealStatusOngoing", `${position} of ${row.endOffset} bytes`);
    }
    await handle.sync();
    return row;
  }

  /**
   * Asks for the interval at `position`, with a voucher paying for every byte before it — and,
   * paying in advance, for the interval asked for too (never beyond the range).
   */
  private async request(
    row: PieceFetchRow,
    target: FetchTarget,
    position: number,
    plan: PaymentPlan,
    options: FetchOptions,
    emit: Emit,
  ): Promise<Dispatcher.ResponseData> {
    const headers: Record<string, string> = {};
    const paidTo = plan.advance
      ? Math.min(row.endOffset, position + paymentIntervalBytes(plan.terms, plan.requests))
      : position;
    if (paidTo > row.startOffset) {
      const amount = row.pricePerByte * BigInt(paidTo - row.startOffset);
      headers[VOUCHER_HEADER] = encodeVoucherHeader(
        await this.voucher(row.channelId as bigint, row.lane as bigint, amount),
      );
      emit("ClientEventPaymentSent", "DealStatusOngoing");
    }
    const path = `${PROVIDER_PATHS.retrievalData(row.providerRetrievalId as string)}?offset=${position}`;
    const signed = await signRequest(this.deps.clients.account, {
      method: "GET",
      path,
      audience: target.provider.address,
    });
    return httpCall(
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
  }

  /** Pays for whatever of the range the lane's vouchers do not cover yet (the last interval). */
  private async payRest(row: PieceFetchRow, provider: RegisteredProvider): Promise<void> {
    const lane = row.lane as bigint;
    const channelId = row.channelId as bigint;
    const owed = row.pricePerByte * BigInt(row.endOffset - row.startOffset);
    if (this.deps.ledger.lane(channelId, lane).amount >= owed) return;
    const voucher = await this.voucher(channelId, lane, owed);
    await payRetrieval(this.deps.clients.account, provider, row.providerRetrievalId as string, voucher);
  }

  /** Signs the next voucher on a lane for at least `amount`, recording it first. */
  private async voucher(channelId: bigint, lane: bigint, amount: bigint) {
    const { clients, contracts, ledger } = this.deps;
    const last = ledger.lane(channelId, lane);
    const next = plainVoucher(channelId, lane, last.nonce + 1n, amount > last.amount ? amount : last.amount);
    ledger.recordVoucher(channelId, lane, next.nonce, next.amount);
    return signVoucher(clients.account, clients.chain.id, contracts.paymentChannels, next);
  }

  /**
   * A channel to `provider` able to cover `needed` more, created or topped up as needed. What
   * its lanes' vouchers promise and what the fetches running on it will still pay are not free.
   * Called only inside the book's `exclusive` section for the provider.
   */
  private async ensureChannel(provider: Address, needed: bigint, emit: Emit): Promise<bigint> {
    const { clients, contracts, ledger } = this.deps;
    for (const channelId of ledger.channelsTo(provider)) {
      const channel = await getChannel(clients, contracts, channelId);
      if (channel.collected || channel.settlingAt !== 0n) continue;
      const running = this.book
        .running(channelId)
        .reduce((sum, f) => sum + max0(f.cost - ledger.lane(channelId, f.lane).amount), 0n);
      const available = channel.funds - ledger.promised(channelId) - running;
      if (available < needed) {
        emit("ClientEventPaymentChannelAddingFunds", "DealStatusPaymentChannelAddingFunds");
        await fundChannel(clients, contracts, channelId, needed * CHANNEL_FUNDING_MULTIPLE - available);
      }
      return channelId;
    }
    emit("ClientEventPaymentChannelCreating", "DealStatusPaymentChannelCreating");
    const deposit = needed > 0n ? needed * CHANNEL_FUNDING_MULTIPLE : 1n;
    const { channelId } = await createChannel(clients, contracts, provider, deposit);
    ledger.addChannel(channelId, provider);
    return channelId;
  }
}

/**
 * A channel is created or topped up for this many fetches of the size at hand, not one: a top-up
 * is an on-chain transaction (a block's wait), so funding for exactly one fetch made every later
 * retrieval from the provider wait for one. What is deposited and not paid out comes back when
 * the channel is settled and collected (`client withdraw`).
 */
const CHANNEL_FUNDING_MULTIPLE = 4n;
