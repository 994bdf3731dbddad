import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { toHex, type Address, type Hex } from "viem";
import { InvalidArgumentError } from "../core/errors";
import type { StorageDealProposal } from "../chain/eip712";
import { marketParams } from "../chain/storage-market/reads";
import { hashProposal, signProposal } from "../chain/storage-market/proposals";
import { commpOfFile } from "../piece/commp";
import { parsePieceCidV2 } from "../piece/piece-cid";
import { extendDeal as requestDealExtension, putManifest } from "../protocol/provider-client";
import { assertNotEmpty, prepareFile, type PrepareOptions } from "../manifest/prepare";
import { EscrowHolds } from "./escrow-holds";
import { completeSignedProposal, propose } from "./proposal-completion";
import { downloadPiece, uploadPiece } from "./piece-transfer";
import { ClientEvents, type ClientEventListener } from "./client-events";
import { getStatus as readStatus, type DealStatus, type StatusTarget } from "./deal-status";
import {
  ProviderNotRegisteredError,
  lookupProvider,
  perPieceOptions,
  type ExtendedProposal,
  type SignedProposal,
  type StorageClientComponents,
  type StoreOptions,
  type StoredDeal,
  type StoredFile,
} from "./storage-common";

export * from "./storage-common";
export * from "./client-events";
export * from "./deal-status";

/**
 * Seed 001's StorageClient: direct storage deals with one provider (the 10-step StorageMarket
 * flow) and reading one's own pieces back. Each step that can fail says which provider and which
 * stage.
 */
export class StorageClient {
  /** Free escrow held by the proposals this client has prepared and not seen published. */
  readonly escrow: EscrowHolds;

  /** @param events Listener hub (seed 001's `RegisterListener`); share it with the other clients. */
  constructor(
    private readonly c: StorageClientComponents,
    readonly events: ClientEvents = new ClientEvents(c.logger),
  ) {
    this.escrow = new EscrowHolds(c);
  }

  /** Registers a listener for every store (`"store"`) and renewal (`"extend"`); @returns its unsubscribe. */
  subscribe(listener: ClientEventListener): () => void {
    return this.events.subscribe(listener);
  }

  /** A deal by id or a file by droot, on-chain and local state ({@link readStatus}); @throws as it does. */
  getStatus(target: string | StatusTarget): Promise<DealStatus> {
    return readStatus(this.c, target);
  }

  /**
   * Stores a file as one piece with one provider: CommP, escrow top-up, signed proposal, streamed
   * upload (retried across provider restarts), wait for the published deal.
   *
   * @throws ProviderNotRegisteredError, PeerRejectedError (the provider refused, with its code),
   * PeerUnreachableError (after the last attempt), ContractRevertedError (escrow deposit).
   */
  async storeFile(filePath: string, storeOptions: StoreOptions): Promise<StoredDeal> {
    const { store } = this.c;
    const options = this.reporting(filePath, storeOptions);
    await assertNotEmpty(filePath);
    const commitment = await commpOfFile(filePath);
    options.onProgress?.({ stage: "commp", pieceCid: commitment.pieceCid, paddedSize: commitment.paddedSize });
    const signed = await this.prepareProposal(
      { root: toHex(commitment.root), paddedSize: commitment.paddedSize, pieceCid: commitment.pieceCid },
      options.provider,
      options,
    );
    const { proposal } = signed;
    const accepted = await propose(this.c, signed).catch((err: unknown) => {
      this.escrow.release(signed.proposalHash);
      throw err;
    });
    options.onProgress?.({ stage: "proposed", proposalHash: accepted.proposalHash });
    store.insertDeal({
      proposalHash: accepted.proposalHash,
      provider: proposal.provider,
      providerUrl: signed.providerUrl,
      pieceCid: commitment.pieceCid,
      root: toHex(commitment.root),
      payloadSize: commitment.payloadSize,
      paddedSize: commitment.paddedSize,
      proposal,
      filePath: resolve(filePath),
    });
    try {
      const provider = await lookupProvider(this.c, proposal.provider);
      const published = await uploadPiece(this.c, provider, signed, accepted, filePath, options);
      store.markPublished(accepted.proposalHash, published.dealId, published.txHash);
      options.onProgress?.({ stage: "published", dealId: published.dealId, txHash: published.txHash });
      return {
        ...published,
        proposalHash: accepted.proposalHash,
        pieceCid: commitment.pieceCid,
        provider: proposal.provider,
        proposal,
      };
    } catch (err) {
      store.markFailed(accepted.proposalHash, (err as Error).message.split("\n")[0]);
      throw err;
    } finally {
      this.escrow.release(signed.proposalHash);
    }
  }

  /** `options` whose onProgress also reports each event to {@link events}. */
  private reporting(filePath: string, options: StoreOptions): StoreOptions {
    const perCall = options.onProgress;
    const source = { filePath: resolve(filePath), provider: options.provider };
    return {
      ...options,
      onProgress: (progress) => {
        this.events.emit({ kind: "store", ...source, progress });
        perCall?.(progress);
      },
    };
  }

  /**
   * Renews one of this client's direct deals (seed 001's `UpdateStorageDeal`): signs its proposal
   * with `endEpoch` moved `extraEpochs` later and a fresh nonce, tops up escrow by
   * `storagePricePerEpoch · extraEpochs`, and has the provider put it on chain. The piece is not
   * uploaded again.
   *
   * @param dealId A published deal in this client's database.
   * @param extraEpochs Epochs added to the deal's end, > 0.
   * @throws InvalidArgumentError (unknown deal, extraEpochs ≤ 0), ProviderNotRegisteredError,
   *   PeerRejectedError (the provider or the market refused, with its code), PeerUnreachableError.
   */
  async extendDeal(dealId: bigint, extraEpochs: bigint): Promise<{ dealId: bigint; endEpoch: bigint; txHash: Hex }> {
    const { store } = this.c;
    if (extraEpochs <= 0n) throw new InvalidArgumentError("--duration must be a positive number of epochs");
    const row = store.deals().find((d) => d.dealId === dealId && d.status === "published");
    if (!row) {
      throw new InvalidArgumentError(`deal ${dealId} is not one of this client's published direct deals`, {
        details: { dealId: dealId.toString() },
      });
    }
    const { proposal: extended, proposalHash, txHash } = await this.extendProposal(dealId, row.proposal, extraEpochs);
    store.renewDeal(row.proposalHash, { ...row, proposalHash, proposal: extended }, txHash);
    this.events.emit({ kind: "extend", dealId, endEpoch: extended.endEpoch, txHash });
    return { dealId, endEpoch: extended.endEpoch, txHash };
  }

  /**
   * Moves published deal `dealId`'s end (`current` is its proposal) `extraEpochs` later with a fresh
   * nonce, tops up escrow by storagePricePerEpoch · extraEpochs and has the provider call
   * `extendStorageDeal`; keeps no record. @returns the proposal now on chain, signed.
   * @throws ProviderNotRegisteredError, PeerRejectedError (declined or refused), PeerUnreachableError.
   */
  async extendProposal(dealId: bigint, current: StorageDealProposal, extraEpochs: bigint): Promise<ExtendedProposal> {
    const { clients, contracts } = this.c;
    const extended: StorageDealProposal = {
      ...current,
      endEpoch: current.endEpoch + extraEpochs,
      nonce: BigInt(`0x${randomBytes(8).toString("hex")}`),
    };
    await this.escrow.ensure(current.storagePricePerEpoch * extraEpochs);
    const clientSignature = await signProposal(clients.account, clients.chain.id, contracts.storageMarket, extended);
    const provider = await lookupProvider(this.c, current.provider);
    const { txHash } = await requestDealExtension(clients.account, provider, dealId, {
      proposal: extended,
      clientSignature,
    });
    const proposalHash = hashProposal(clients.chain.id, contracts.storageMarket, extended);
    return { proposal: extended, clientSignature, proposalHash, txHash };
  }

  /**
   * Builds and signs a proposal for a piece with a provider at its ask (escrow topped up first,
   * and held for it in {@link escrow}). Nothing is sent: callers that must survive a crash persist
   * the result, then call {@link completeProposal}, which is idempotent and ends the hold; a caller
   * that drops the proposal instead calls `escrow.release(proposalHash)`.
   *
   * @throws ProviderNotRegisteredError, ContractRevertedError (escrow deposit).
   */
  async prepareProposal(
    piece: { root: Hex; paddedSize: number; pieceCid: string },
    providerAddress: Address,
    options: Omit<StoreOptions, "provider" | "onProgress"> & { onProgress?: StoreOptions["onProgress"] },
  ): Promise<SignedProposal> {
    const { clients, contracts } = this.c;
    const provider = await lookupProvider(this.c, providerAddress);
    const params = await marketParams(clients, contracts);
    const paddedSize = BigInt(piece.paddedSize);
    const duration = options.durationEpochs ?? 1000n * params.provingPeriodEpochs;
    // Asks are per payload byte: the padding to a power of two is not paid for.
    const payloadBytes = BigInt(parsePieceCidV2(piece.pieceCid).payloadSize);
    const pricePerEpoch = options.pricePerEpoch ?? provider.storageAsk.pricePerBytePerEpoch * payloadBytes;
    // Held until the proposal is published or given up (completeProposal), so proposals prepared
    // side by side do not count the same free escrow.
    const holdKey = `prepare-${randomBytes(8).toString("hex")}`;
    const deposited = await this.escrow.ensure(pricePerEpoch * duration, holdKey);
    try {
      options.onProgress?.({ stage: "escrow", deposited });
      // Read the chain head last, right before signing, so the start epoch does not drift.
      const latest = await clients.public.getBlockNumber();
      const startEpoch = latest + (options.startDelayEpochs ?? 3n * params.provingPeriodEpochs + 10n);
      const proposal: StorageDealProposal = {
        pieceCid: piece.root,
        pieceSize: paddedSize,
        payloadSize: payloadBytes,
        client: clients.account.address,
        provider: provider.address,
        label: options.label ?? piece.pieceCid,
        startEpoch,
        endEpoch: startEpoch + duration,
        storagePricePerEpoch: pricePerEpoch,
        providerCollateral: provider.storageAsk.collateralPerByte * payloadBytes,
        clientCollateral: 0n,
        nonce: BigInt(`0x${randomBytes(8).toString("hex")}`),
      };
      const clientSignature = await signProposal(clients.account, clients.chain.id, contracts.storageMarket, proposal);
      const proposalHash = hashProposal(clients.chain.id, contracts.storageMarket, proposal);
      this.escrow.rename(holdKey, proposalHash);
      return { proposal, clientSignature, pieceCidV2: piece.pieceCid, proposalHash, providerUrl: provider.endpoint };
    } catch (err) {
      this.escrow.release(holdKey); // nothing was signed: nothing holds the escrow
      throw err;
    }
  }

  /**
   * Takes a signed proposal to a published deal, whatever state an earlier attempt left it in:
   * asks the provider for the proposal's status, then proposes, uploads and waits as needed. The
   * same proposal (same nonce) is never published twice, so a retry after a crash costs nothing.
   *
   * When the provider cannot be reached but signed its acceptance earlier (kept in the client
   * store), the client publishes the deal itself.
   *
   * @throws PeerRejectedError (refused at the provider), DealNotPublishedError (failed or expired
   *   there, or skipped by the market), PeerUnreachableError.
   */
  async completeProposal(
    signed: SignedProposal,
    filePath: string,
    options: Omit<StoreOptions, "provider"> = {},
  ): Promise<{ dealId: bigint; txHash: Hex }> {
    try {
      return await completeSignedProposal(this.c, this.escrow, signed, filePath, options);
    } finally {
      this.escrow.release(signed.proposalHash); // published (locked on chain) or failed
    }
  }

  /**
   * Erasure-codes a file (k + m pieces, DESIGN.md "Erasure coding") and stores piece i with
   * `providers[i]` as a direct deal — durability without a repair miner: the file survives any m
   * lost pieces but nobody rebuilds them. The manifest is kept locally and given to every provider.
   *
   * @throws InvalidArgumentError when there are not k + m distinct providers; as storeFile.
   */
  async storeErasureCoded(
    filePath: string,
    coding: Pick<PrepareOptions, "k" | "m" | "coding" | "pool"> & { providers: Address[]; workDir: string },
    options: Omit<StoreOptions, "provider">,
  ): Promise<StoredFile> {
    const { k, m, providers } = coding;
    if (new Set(providers.map((p) => p.toLowerCase())).size !== k + m) {
      throw new InvalidArgumentError("erasure-coded storage needs k + m distinct providers", {
        details: { k, m, providers: providers.length },
      });
    }
    const outDir = join(coding.workDir, `prepare-${Date.now()}`);
    const perPiece = perPieceOptions(options, providers);
    const prepared = await prepareFile(filePath, { ...coding, outDir, onProgress: perPiece.onEncoding });
    const droot = prepared.manifest.droot;
    this.c.store.putManifest(droot, JSON.stringify(prepared.manifest));
    const deals = await Promise.all(prepared.piecePaths.map((path, i) => this.storeFile(path, perPiece.options(i))));
    const json = JSON.stringify(prepared.manifest);
    for (const address of providers) await this.giveManifest(address, droot, json);
    // Every piece is with its provider now. After a failure the pieces stay: the client's
    // database points at them, so a rerun resumes the uploads.
    await rm(outDir, { recursive: true, force: true });
    return { droot, manifest: prepared.manifest, deals };
  }

  /**
   * Hands a provider the file's manifest (signed `PUT /manifests/:droot`); the provider keeps it
   * only for a client with a deal on one of the file's pieces, and serves it for orphan repair.
   *
   * @throws ProviderNotRegisteredError, PeerRejectedError, PeerUnreachableError.
   */
  async giveManifest(providerAddress: Address, droot: Hex, json: string): Promise<void> {
    const provider = await lookupProvider(this.c, providerAddress);
    await putManifest(this.c.clients.account, provider, droot, json);
  }

  /**
   * Fetches one's own piece from a provider holding it (signed request; no payment), checks its
   * CommP while streaming, and writes it atomically to `outPath`.
   *
   * @throws PieceCommitmentMismatchError when the bytes do not match the PieceCID.
   */
  async retrieveOwnPiece(
    pieceCid: string,
    outPath: string,
    providerAddress?: Address,
  ): Promise<{ provider: Address; bytes: number }> {
    const expected = parsePieceCidV2(pieceCid);
    const candidates = this.c.store
      .dealsForPiece(pieceCid)
      .filter((d) => !providerAddress || d.provider.toLowerCase() === providerAddress.toLowerCase());
    const addresses =
      candidates.length > 0
        ? [...new Set(candidates.map((d) => d.provider))]
        : providerAddress
          ? [providerAddress]
          : [];
    if (addresses.length === 0) {
      throw new ProviderNotRegisteredError("no provider known to hold this piece; pass --provider", {
        details: { pieceCid },
      });
    }
    let lastError: unknown;
    for (const address of addresses) {
      try {
        const provider = await lookupProvider(this.c, address);
        const bytes = await downloadPiece(this.c, provider, pieceCid, expected.root, outPath);
        return { provider: address, bytes };
      } catch (err) {
        lastError = err;
        this.c.logger.warn({ err, provider: address }, "piece download failed; trying the next provider");
      }
    }
    throw lastError;
  }
}
