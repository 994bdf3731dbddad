import { createReadStream } from "node:fs";
import { Transform } from "node:stream";
import { stat, open, rename, rm } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { dirname, join, resolve } from "node:path";
import { toHex, type Address, type Hex } from "viem";
import { fileSha256 } from "../core/file-hash";
import { sleep } from "../core/abort";
import { InvalidArgumentError, RepairMarketError } from "../core/errors";
import { PeerRejectedError, PeerUnreachableError, httpCall, httpJson } from "../core/http-client";
import type { Logger } from "../core/logger";
import { signRequest } from "../core/signed-request";
import type { ChainClients } from "../chain/clients";
import type { MarketContracts } from "../chain/contracts";
import type { StorageDealProposal } from "../chain/eip712";
import { addBalance } from "../chain/storage-market/add-balance";
import { escrowBalance, marketParams } from "../chain/storage-market/reads";
import { hashProposal, signProposal, verifyAcceptanceSignature } from "../chain/storage-market/proposals";
import { publishStorageDeals } from "../chain/storage-market/publish-storage-deals";
import { storageMarketAbi } from "../chain/generated/abis";
import { getProvider, type RegisteredProvider } from "../chain/registry/reads";
import { commpOfFile, CommPHasher } from "../piece/commp";
import { parsePieceCidV2 } from "../piece/piece-cid";
import {
  PROVIDER_PATHS,
  type ExtendDealResponse,
  type ProposalStatusResponse,
  type ProposeDealResponse,
  type UploadResponse,
} from "../provider/api";
import type { ClientStore } from "./client-store";
import { PieceCommitmentMismatchError } from "./retrieval/piece-fetcher";
import type { ErasurePool } from "../erasure/erasure-pool";
import { assertNotEmpty, prepareFile } from "../manifest/prepare";
import type { Manifest } from "../manifest/manifest";

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

/** Epochs back a client looks for a deal its provider published after a restart (a bounded scan). */
const PUBLISHED_DEAL_LOOKBACK_EPOCHS = 5_000n;

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
  | { stage: "upload"; sent: number; total: number; attempt: number }
  /** The provider answered the upload: it has the whole piece and checked its CommP. */
  | { stage: "uploaded" }
  | { stage: "retry"; attempt: number; error: string }
  | { stage: "published"; dealId: bigint; txHash: Hex }
  /** The provider held the piece but did not publish: the client put the deal on chain itself. */
  | { stage: "selfPublished"; dealId: bigint; txHash: Hex };

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
 * Seed 001's StorageClient: direct storage deals with one provider (the 10-step StorageMarket
 * flow) and reading one's own pieces back. Each step that can fail says which provider and which
 * stage.
 */
export class StorageClient {
  constructor(private readonly c: StorageClientComponents) {}

  /**
   * Stores a file as one piece with one provider: CommP, escrow top-up, signed proposal, streamed
   * upload (retried across provider restarts), wait for the published deal.
   *
   * @throws ProviderNotRegisteredError, PeerRejectedError (the provider refused, with its code),
   * PeerUnreachableError (after the last attempt), ContractRevertedError (escrow deposit).
   */
  async storeFile(filePath: string, options: StoreOptions): Promise<StoredDeal> {
    const { store } = this.c;
    await assertNotEmpty(filePath);
    const commitment = await commpOfFile(filePath);
    options.onProgress?.({ stage: "commp", pieceCid: commitment.pieceCid, paddedSize: commitment.paddedSize });
    const signed = await this.prepareProposal(
      { root: toHex(commitment.root), paddedSize: commitment.paddedSize, pieceCid: commitment.pieceCid },
      options.provider,
      options,
    );
    const { proposal } = signed;
    const accepted = await this.propose(signed);
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
      const provider = await this.provider(proposal.provider);
      const published = await this.upload(provider, signed, accepted, filePath, options);
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
    }
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
    const { clients, contracts, store } = this.c;
    if (extraEpochs <= 0n) throw new InvalidArgumentError("--duration must be a positive number of epochs");
    const row = store.deals().find((d) => d.dealId === dealId && d.status === "published");
    if (!row) {
      throw new InvalidArgumentError(`deal ${dealId} is not one of this client's published direct deals`, {
        details: { dealId: dealId.toString() },
      });
    }
    const extended: StorageDealProposal = {
      ...row.proposal,
      endEpoch: row.proposal.endEpoch + extraEpochs,
      nonce: BigInt(`0x${randomBytes(8).toString("hex")}`),
    };
    await this.ensureEscrow(row.proposal.storagePricePerEpoch * extraEpochs);
    const clientSignature = await signProposal(clients.account, clients.chain.id, contracts.storageMarket, extended);
    const provider = await this.provider(row.provider);
    const response = await this.post<ExtendDealResponse>(
      provider,
      PROVIDER_PATHS.dealExtension(dealId.toString()),
      "extend deal",
      { proposal: extended, clientSignature },
    );
    const proposalHash = hashProposal(clients.chain.id, contracts.storageMarket, extended);
    store.renewDeal(row.proposalHash, { ...row, proposalHash, proposal: extended }, response.txHash);
    return { dealId, endEpoch: extended.endEpoch, txHash: response.txHash };
  }

  /**
   * Builds and signs a proposal for a piece with a provider at its ask (escrow topped up first).
   * Nothing is sent: callers that must survive a crash persist the result, then call
   * {@link completeProposal}, which is idempotent.
   *
   * @throws ProviderNotRegisteredError, ContractRevertedError (escrow deposit).
   */
  async prepareProposal(
    piece: { root: Hex; paddedSize: number; pieceCid: string },
    providerAddress: Address,
    options: Omit<StoreOptions, "provider" | "onProgress"> & { onProgress?: StoreOptions["onProgress"] },
  ): Promise<SignedProposal> {
    const { clients, contracts } = this.c;
    const provider = await this.provider(providerAddress);
    const params = await marketParams(clients, contracts);
    const paddedSize = BigInt(piece.paddedSize);
    const duration = options.durationEpochs ?? 1000n * params.provingPeriodEpochs;
    // Asks are per payload byte: the padding to a power of two is not paid for.
    const payloadBytes = BigInt(parsePieceCidV2(piece.pieceCid).payloadSize);
    const pricePerEpoch = options.pricePerEpoch ?? provider.storageAsk.pricePerBytePerEpoch * payloadBytes;
    const deposited = await this.ensureEscrow(pricePerEpoch * duration);
    options.onProgress?.({ stage: "escrow", deposited });
    // Read the chain head last, right before signing, so the start epoch does not drift.
    const latest = await clients.public.getBlockNumber();
    const startEpoch = latest + (options.startDelayEpochs ?? 3n * params.provingPeriodEpochs + 10n);
    const proposal: StorageDealProposal = {
      pieceCid: piece.root,
      pieceSize: paddedSize,
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
    return {
      proposal,
      clientSignature,
      pieceCidV2: piece.pieceCid,
      proposalHash: hashProposal(clients.chain.id, contracts.storageMarket, proposal),
      providerUrl: provider.endpoint,
    };
  }

  /**
   * Takes a signed proposal to a published deal, whatever state an earlier attempt left it in:
   * asks the provider for the proposal's status, then proposes, uploads and waits as needed. The
   * same proposal (same nonce) is never published twice, so a retry after a crash costs nothing.
   *
   * @throws PeerRejectedError (refused, failed or expired at the provider), PeerUnreachableError.
   */
  async completeProposal(
    signed: SignedProposal,
    filePath: string,
    options: Omit<StoreOptions, "provider"> = {},
  ): Promise<{ dealId: bigint; txHash: Hex }> {
    const provider = await this.provider(signed.proposal.provider);
    const status = await this.proposalStatus(provider, signed.proposalHash);
    if (status?.status === "published" && status.dealId && status.txHash) {
      return { dealId: BigInt(status.dealId), txHash: status.txHash };
    }
    if (
      status?.status === "stored" ||
      ((status?.status === "failed" || status?.status === "expired") && status.providerSignature)
    ) {
      return this.waitPublished(provider, signed, options);
    }
    if (status?.status === "failed" || status?.status === "expired") {
      throw new DealNotPublishedError(`deal was not published: ${status.reason ?? status.status}`, {
        details: {
          provider: provider.address,
          proposalHash: signed.proposalHash,
          reason: status.reason ?? status.status,
        },
      });
    }
    const accepted = status ? this.acceptedOf(signed) : await this.propose(signed);
    return this.upload(provider, signed, accepted, filePath, { ...options, provider: provider.address });
  }

  private acceptedOf(signed: SignedProposal): ProposeDealResponse {
    return {
      accepted: true,
      proposalHash: signed.proposalHash,
      uploadPath: PROVIDER_PATHS.proposalData(signed.proposalHash),
      payloadSize: 0,
    };
  }

  /** POSTs a signed proposal; accepting the same proposal again is a no-op at the provider. */
  private async propose(signed: SignedProposal): Promise<ProposeDealResponse> {
    const provider = await this.provider(signed.proposal.provider);
    return this.post<ProposeDealResponse>(provider, PROVIDER_PATHS.proposals, "propose deal", {
      proposal: signed.proposal,
      clientSignature: signed.clientSignature,
      pieceCidV2: signed.pieceCidV2,
    });
  }

  /** The provider's view of a proposal, or undefined when it has never seen it. */
  private async proposalStatus(
    provider: RegisteredProvider,
    proposalHash: Hex,
  ): Promise<ProposalStatusResponse | undefined> {
    try {
      return await httpJson<ProposalStatusResponse>(
        { method: "GET", url: provider.endpoint + PROVIDER_PATHS.proposal(proposalHash) },
        { peer: provider.address, stage: "deal status" },
      );
    } catch (err) {
      if (err instanceof PeerRejectedError && err.statusCode === 404) return undefined;
      throw err;
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
    coding: { k: number; m: number; providers: Address[]; workDir: string; pool: ErasurePool },
    options: Omit<StoreOptions, "provider">,
  ): Promise<StoredFile> {
    const { k, m, providers } = coding;
    if (new Set(providers.map((p) => p.toLowerCase())).size !== k + m) {
      throw new InvalidArgumentError("erasure-coded storage needs k + m distinct providers", {
        details: { k, m, providers: providers.length },
      });
    }
    const prepared = await prepareFile(filePath, {
      k,
      m,
      outDir: join(coding.workDir, `prepare-${Date.now()}`),
      pool: coding.pool,
    });
    const droot = prepared.manifest.droot as Hex;
    this.c.store.putManifest(droot, JSON.stringify(prepared.manifest));
    const deals = await Promise.all(
      prepared.piecePaths.map((path, i) => this.storeFile(path, { ...options, provider: providers[i] })),
    );
    const json = JSON.stringify(prepared.manifest);
    for (const address of providers) await this.giveManifest(address, droot, json);
    return { droot, manifest: prepared.manifest, deals };
  }

  /**
   * Hands a provider the file's manifest (signed `PUT /manifests/:droot`); the provider keeps it
   * only for a client with a deal on one of the file's pieces, and serves it for orphan repair.
   *
   * @throws ProviderNotRegisteredError, PeerRejectedError, PeerUnreachableError.
   */
  async giveManifest(providerAddress: Address, droot: Hex, json: string): Promise<void> {
    const provider = await this.provider(providerAddress);
    const path = PROVIDER_PATHS.manifest(droot);
    const headers = await signRequest(this.c.clients.account, {
      method: "PUT",
      path,
      body: json,
      audience: provider.address,
    });
    await httpJson(
      {
        method: "PUT",
        url: provider.endpoint + path,
        headers: { ...headers, "content-type": "application/json" },
        body: json,
      },
      { peer: provider.address, stage: "store manifest" },
    );
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
        const provider = await this.provider(address);
        const bytes = await this.download(provider, pieceCid, expected.root, outPath);
        return { provider: address, bytes };
      } catch (err) {
        lastError = err;
        this.c.logger.warn({ err, provider: address }, "piece download failed; trying the next provider");
      }
    }
    throw lastError;
  }

  private async provider(address: Address): Promise<RegisteredProvider> {
    const provider = await getProvider(this.c.clients, this.c.contracts, address);
    if (!provider)
      throw new ProviderNotRegisteredError("provider is not registered", { details: { provider: address } });
    return provider;
  }

  private async ensureEscrow(needed: bigint): Promise<bigint> {
    const { clients, contracts } = this.c;
    const { free } = await escrowBalance(clients, contracts, clients.account.address);
    if (free >= needed) return 0n;
    await addBalance(clients, contracts, clients.account.address, needed - free);
    return needed - free;
  }

  private async post<T>(provider: RegisteredProvider, path: string, stage: string, body: unknown): Promise<T> {
    const json = JSON.stringify(body, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
    const headers = await signRequest(this.c.clients.account, {
      method: "POST",
      path,
      body: json,
      audience: provider.address,
    });
    return httpJson<T>(
      {
        method: "POST",
        url: provider.endpoint + path,
        headers: { ...headers, "content-type": "application/json" },
        body: json,
      },
      { peer: provider.address, stage },
    );
  }

  private async upload(
    initialProvider: RegisteredProvider,
    signed: Pick<SignedProposal, "proposal" | "clientSignature" | "proposalHash">,
    accepted: ProposeDealResponse,
    filePath: string,
    options: StoreOptions,
  ): Promise<{ dealId: bigint; txHash: Hex }> {
    let provider = initialProvider;
    const bodySha256 = await fileSha256(filePath);
    const { size } = await stat(filePath);
    const attempts = options.maxUploadAttempts ?? 8;
    for (let attempt = 1; ; attempt++) {
      try {
        const headers = await signRequest(this.c.clients.account, {
          method: "PUT",
          path: accepted.uploadPath,
          bodySha256,
          audience: provider.address,
        });
        let sent = 0;
        const file = createReadStream(filePath, { highWaterMark: options.uploadBytesPerSecond ? 64 * 1024 : 1 << 20 });
        const body = options.uploadBytesPerSecond ? file.pipe(throttle(options.uploadBytesPerSecond)) : file;
        body.on("data", (chunk: Buffer) => {
          sent += chunk.length;
          options.onProgress?.({ stage: "upload", sent, total: size, attempt });
        });
        const response = await httpCall(
          {
            method: "PUT",
            url: provider.endpoint + accepted.uploadPath,
            headers: { ...headers, "content-type": "application/octet-stream", "content-length": String(size) },
            body,
            headersTimeoutMs: 180_000,
          },
          { peer: provider.address, stage: "upload piece" },
        );
        const text = await response.body.text();
        options.onProgress?.({ stage: "uploaded" });
        if (response.statusCode === 202) return await this.waitPublished(provider, signed, options);
        const uploaded = JSON.parse(text) as UploadResponse;
        return { dealId: BigInt(uploaded.dealId), txHash: uploaded.txHash };
      } catch (err) {
        const retryable =
          err instanceof PeerUnreachableError ||
          (err instanceof PeerRejectedError && (err.statusCode >= 500 || err.code === "UploadInProgress"));
        if (!retryable || attempt >= attempts) throw err;
        options.onProgress?.({ stage: "retry", attempt, error: (err as Error).message.split("\n")[0] });
        this.c.logger.warn({ err, attempt }, "upload failed; retrying");
        await sleep(Math.min(1000 * 2 ** (attempt - 1), 8000));
        // The provider may have moved (restarted on another port): ask the registry again.
        provider = await this.provider(provider.address).catch(() => provider);
      }
    }
  }

  /**
   * Polls the provider until the deal is published. Once the provider has signed its acceptance
   * (it holds the piece), the client publishes the deal itself (seed 001 steps 2–3) when the
   * provider has not after `selfPublishAfterMs`, stops answering, or reports its publish failed;
   * a provider that took the bytes is then held to the deal.
   *
   * @throws DealNotPublishedError (failed at the provider without an acceptance, or skipped by the
   *   market), PeerUnreachableError (unreachable before it signed), PeerRejectedError 504 after
   *   about two minutes.
   */
  private async waitPublished(
    provider: RegisteredProvider,
    signed: Pick<SignedProposal, "proposal" | "clientSignature" | "proposalHash">,
    options: Pick<StoreOptions, "selfPublishAfterMs" | "onProgress">,
  ): Promise<{ dealId: bigint; txHash: Hex }> {
    const selfPublishAfterMs = options.selfPublishAfterMs ?? 60_000;
    const since = Date.now();
    let acceptance: Hex | undefined;
    for (let i = 0; i < 120; i++) {
      let status: ProposalStatusResponse | undefined;
      try {
        status = await httpJson<ProposalStatusResponse>(
          { method: "GET", url: provider.endpoint + PROVIDER_PATHS.proposal(signed.proposalHash) },
          { peer: provider.address, stage: "deal status" },
        );
      } catch (err) {
        if (!(err instanceof PeerUnreachableError) || !acceptance) throw err;
      }
      if (status?.status === "published" && status.dealId && status.txHash) {
        return { dealId: BigInt(status.dealId), txHash: status.txHash };
      }
      if (!acceptance && status?.providerSignature) {
        const { clients, contracts } = this.c;
        if (
          await verifyAcceptanceSignature(clients, contracts.storageMarket, signed.proposal, status.providerSignature)
        )
          acceptance = status.providerSignature;
        else this.c.logger.warn({ provider: provider.address }, "the provider's acceptance signature does not verify");
      }
      const failed = status?.status === "failed" || status?.status === "expired";
      if (failed && !acceptance) {
        throw new DealNotPublishedError(`deal was not published: ${status?.reason ?? status?.status}`, {
          details: { provider: provider.address, proposalHash: signed.proposalHash, reason: status?.reason ?? "" },
        });
      }
      if (acceptance && (failed || !status || Date.now() - since >= selfPublishAfterMs)) {
        const own = await this.publishAccepted(provider.address, signed, acceptance);
        if (own) {
          options.onProgress?.({ stage: "selfPublished", ...own });
          return own;
        }
      }
      await sleep(1000);
    }
    throw new PeerRejectedError(504, "PublishTimeout", "deal was not published within two minutes", {
      peer: provider.address,
      stage: "deal status",
    });
  }

  /**
   * Publishes a deal from the client's account with the provider's acceptance. When its nonce is
   * already used (the provider got there first), finds that deal in the last
   * `PUBLISHED_DEAL_LOOKBACK_EPOCHS` epochs of `DealPublished` logs.
   *
   * @returns The deal, or undefined when it is published but not found (keep polling).
   * @throws DealNotPublishedError when the market skips it for another reason.
   */
  private async publishAccepted(
    provider: Address,
    signed: Pick<SignedProposal, "proposal" | "clientSignature" | "proposalHash">,
    providerSignature: Hex,
  ): Promise<{ dealId: bigint; txHash: Hex } | undefined> {
    const { clients, contracts, logger } = this.c;
    const { proposal, clientSignature } = signed;
    const { hash, results } = await publishStorageDeals(clients, contracts, [
      { proposal, clientSignature, providerSignature },
    ]);
    const [result] = results;
    if (result.published) {
      logger.warn(
        { provider, proposalHash: signed.proposalHash, dealId: result.dealId.toString(), txHash: hash },
        "the provider holds the piece but did not publish; published the deal with its acceptance",
      );
      return { dealId: result.dealId, txHash: hash };
    }
    if (result.reason !== "NonceUsed") {
      throw new DealNotPublishedError(`the market skipped the deal: ${result.reason}`, {
        details: {
          provider,
          proposalHash: signed.proposalHash,
          reason: result.reason,
          stage: "publish with acceptance",
        },
      });
    }
    const head = await clients.public.getBlockNumber();
    const logs = await clients.public.getContractEvents({
      address: contracts.storageMarket,
      abi: storageMarketAbi,
      eventName: "DealPublished",
      args: { client: proposal.client, provider: proposal.provider },
      fromBlock: head > PUBLISHED_DEAL_LOOKBACK_EPOCHS ? head - PUBLISHED_DEAL_LOOKBACK_EPOCHS : 0n,
    });
    const match = logs.find((l) => l.args.proposal?.nonce === proposal.nonce && l.args.dealId !== undefined);
    return match ? { dealId: match.args.dealId as bigint, txHash: match.transactionHash } : undefined;
  }

  private async download(
    provider: RegisteredProvider,
    pieceCid: string,
    root: Uint8Array,
    outPath: string,
  ): Promise<number> {
    const path = PROVIDER_PATHS.piece(pieceCid);
    const headers = await signRequest(this.c.clients.account, { method: "GET", path, audience: provider.address });
    const response = await httpCall(
      { method: "GET", url: provider.endpoint + path, headers },
      { peer: provider.address, stage: "fetch piece" },
    );
    const temp = join(dirname(resolve(outPath)), `.${randomBytes(6).toString("hex")}.part`);
    const handle = await open(temp, "w");
    const hasher = new CommPHasher();
    let bytes = 0;
    try {
      for await (const chunk of response.body) {
        const data = chunk as Uint8Array;
        hasher.update(data);
        await handle.write(data);
        bytes += data.length;
      }
      const actual = hasher.digest();
      if (toHex(actual.root) !== toHex(root)) {
        throw new PieceCommitmentMismatchError("piece bytes do not match the PieceCID", {
          details: { provider: provider.address, pieceCid, actual: actual.pieceCid },
        });
      }
      await handle.sync();
      await handle.close();
      await rename(temp, outPath);
      return bytes;
    } catch (err) {
      await handle.close().catch(() => undefined);
      await rm(temp, { force: true });
      throw err;
    }
  }
}

/** A pass-through stream that releases at most `bytesPerSecond`. */
function throttle(bytesPerSecond: number): Transform {
  const started = Date.now();
  let passed = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      passed += chunk.length;
      const due = started + (passed / bytesPerSecond) * 1000;
      setTimeout(() => done(null, chunk), Math.max(0, due - Date.now()));
    },
  });
}
