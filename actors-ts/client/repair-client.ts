import { createReadStream } from "node:fs";
import { Transform, pipeline, type Readable } from "node:stream";
import { rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { getAddress, type Address, type Hex } from "viem";
import { InvalidArgumentError, RepairMarketError } from "../core/errors";
import { fileSha256 } from "../core/file-hash";
import { httpCall, PeerUnreachableError } from "../core/http-client";
import type { Logger } from "../core/logger";
import { sleep } from "../core/abort";
import { signRequest } from "../core/signed-request";
import type { ChainClients } from "../chain/clients";
import type { MarketContracts } from "../chain/contracts";
import { getAsk, getMiner, latestActiveAskIds } from "../chain/repair-market/reads";
import { addBid, signDealAuthorization } from "../chain/repair-market/actions";
import type { ErasurePool } from "../erasure/erasure-pool";
import { codingOnChain, type FileCoding } from "../erasure/coding";
import { prepareFile } from "../manifest/prepare";
import { encodedPayloadBytes, type Manifest } from "../manifest/manifest";
import type { RepairProposalResponse } from "../protocol/repair-api";
import { commitRepairDeal, insufficientPledgeOf, proposeRepairDeal } from "../protocol/repair-miner-client";
import type { ClientStore } from "./client-store";
import type { ClientEvents } from "./client-events";

/** No active repair ask fits the file (or the named miner has none). */
export class NoRepairAskError extends RepairMarketError {
  override name = "NoRepairAskError" as const;
}

/**
 * The repair miner refused the proposal because its pledge does not cover the file (409
 * `InsufficientPledge`): nothing was uploaded and the bid stays open. `details` has the miner's
 * pledge, what the deal needs, the shortfall (token base units), the bid and the command the
 * miner's owner runs; `hint` says what to do.
 */
export class MinerPledgeTooLowError extends RepairMarketError {
  override name = "MinerPledgeTooLowError" as const;
}

/** An active repair ask with its miner. */
export interface RepairOffer {
  askId: bigint;
  minerId: bigint;
  worker: Address;
  owner: Address;
  endpoint: string;
  /** Token base units per encoded byte per epoch. */
  pricePerBytePerEpoch: bigint;
  /** Largest encoded size, bytes. */
  maxSize: bigint;
}

/** A repair-backed file, as the client keeps it. */
export interface RepairBackedFile {
  droot: Hex;
  dealId: bigint;
  bidId: bigint;
  minerId: bigint;
  miner: Address;
  /** The addDeal transaction (absent when the miner could no longer read it). */
  txHash?: Hex;
  manifest: Manifest;
  /** Token base units locked in the bid. */
  amount: bigint;
}

/** A step of a repair-backed store, for progress output (`sent`/`total` in payload bytes). */
export interface RepairProgress {
  stage: string;
  detail?: string;
  sent?: number;
  total?: number;
}

export interface RepairStoreOptions {
  k: number;
  m: number;
  /**
   * The erasure code: Reed–Solomon when undefined (the default), `{ scheme: "clay", d }` for Clay
   * (see `parseCoding`); the bid carries it as `CodingParams.scheme` and `d`.
   */
  coding?: FileCoding;
  /** Repair miner by worker or owner address (default: the cheapest fitting ask). */
  miner?: Address;
  /** Deal length, epochs (default 10 000). */
  durationEpochs?: bigint;
  workDir: string;
  pool: ErasurePool;
  onProgress?: (event: RepairProgress) => void;
}

/**
 * Seed 000's "Market Flow (with repair)", client side: encode the file (k + m pieces), compute
 * the commitments and the droot, post a funded bid, pick a repair ask, send the miner the
 * proposal with an EIP-712 RepairDealAuthorization naming that miner and ask, upload the pieces,
 * and ask the miner to commit: it checks the bytes and posts `addDeal`. The client can then
 * leave; the miner places, watches and repairs.
 */
export class RepairClient {
  constructor(
    private readonly c: { clients: ChainClients; contracts: MarketContracts; store: ClientStore; logger: Logger },
    /** Listener hub each store's progress is also reported to (`kind: "repair"`). */
    private readonly events?: ClientEvents,
  ) {}

  /** Each miner's newest active repair ask that takes `size` encoded bytes, cheapest first. */
  async offers(size: bigint): Promise<RepairOffer[]> {
    const { clients, contracts } = this.c;
    const head = await clients.public.getBlockNumber();
    const offers: RepairOffer[] = [];
    for (const askId of await latestActiveAskIds(clients, contracts)) {
      const ask = await getAsk(clients, contracts, askId);
      if (!ask.active || ask.expiryEpoch <= head + 10n || ask.maxSize < size) continue;
      const miner = await getMiner(clients, contracts, ask.minerId);
      offers.push({
        askId,
        minerId: ask.minerId,
        worker: miner.worker,
        owner: miner.owner,
        endpoint: miner.endpoint,
        pricePerBytePerEpoch: ask.pricePerBytePerEpoch,
        maxSize: ask.maxSize,
      });
    }
    return offers.sort((a, b) =>
      a.pricePerBytePerEpoch < b.pricePerBytePerEpoch ? -1 : a.pricePerBytePerEpoch > b.pricePerBytePerEpoch ? 1 : 0,
    );
  }

  /**
   * Stores a file repair-backed.
   *
   * @throws NoRepairAskError, MinerPledgeTooLowError (the miner's pledge does not cover the file;
   * the bid stays open), PeerRejectedError (the miner refused, with its code — e.g.
   * DrootMismatch, ParityMismatch, AddDealReverted), PeerUnreachableError, ContractRevertedError
   * (addBid: allowance or balance).
   */
  async store(filePath: string, options: RepairStoreOptions): Promise<RepairBackedFile> {
    const { k, m } = options;
    if (k < 1 || m < 1 || k + m > 64) {
      throw new InvalidArgumentError("repair-backed storage needs k ≥ 1, m ≥ 1 and k + m ≤ 64", { details: { k, m } });
    }
    const outDir = join(options.workDir, `prepare-${Date.now()}`);
    try {
      const perCall = options.onProgress;
      const onProgress = (progress: RepairProgress): void => {
        this.events?.emit({ kind: "repair", filePath, progress });
        perCall?.(progress);
      };
      const prepared = await prepareFile(filePath, {
        k,
        m,
        coding: options.coding,
        outDir,
        pool: options.pool,
        onProgress: (done, total) => onProgress({ stage: "encoding", sent: done, total }),
      });
      return await this.storePrepared(prepared, { ...options, onProgress });
    } finally {
      // The encoded pieces (about 1.5× the file) are the miner's once the deal is made; after a
      // failure a new attempt encodes again (with a new bid), so nothing here is needed either way.
      await rm(outDir, { recursive: true, force: true });
    }
  }

  /** Bids, proposes, uploads and commits a file `prepareFile` encoded (see {@link store}). */
  private async storePrepared(
    prepared: Awaited<ReturnType<typeof prepareFile>>,
    options: RepairStoreOptions,
  ): Promise<RepairBackedFile> {
    const { store } = this.c;
    const progress = options.onProgress ?? (() => undefined);
    const manifest = prepared.manifest;
    const droot = manifest.droot;
    store.putManifest(droot, JSON.stringify(manifest));
    progress({ stage: "encoded", detail: `droot ${droot}` });
    const size = encodedPayloadBytes(manifest);
    const offer = await this.chooseOffer(size, options.miner);
    const { bid, accepted } = await this.bidAndPropose(offer, manifest, options.durationEpochs ?? 10_000n, progress);
    const total = manifest.pieces.reduce((s, p) => s + p.payloadSize, 0);
    let sent = 0;
    for (const [index, path] of prepared.piecePaths.entries()) {
      await this.uploadPiece(offer, accepted.uploadPaths[index], path, index, (bytes) =>
        progress({ stage: "upload", sent: sent + bytes, total }),
      );
      sent += manifest.pieces[index].payloadSize;
      progress({ stage: "upload", sent, total });
    }
    progress({ stage: "commit", detail: `miner ${offer.minerId} checks the pieces and makes the deal` });
    const committed = await commitRepairDeal(this.c.clients.account, minerPeer(offer), accepted.intakeId);
    progress({ stage: "deal", detail: `repair deal ${committed.dealId} tx ${committed.txHash ?? "(not known)"}` });
    return {
      droot,
      dealId: BigInt(committed.dealId),
      bidId: bid.bidId,
      minerId: offer.minerId,
      miner: offer.worker,
      txHash: committed.txHash,
      manifest,
      amount: bid.amount,
    };
  }

  /**
   * The cheapest active ask that takes `size` bytes, of `miner` (worker or owner) when given.
   *
   * @throws NoRepairAskError when none does.
   */
  private async chooseOffer(size: bigint, miner: Address | undefined): Promise<RepairOffer> {
    const offers = (await this.offers(size)).filter(
      (o) => !miner || getAddress(o.worker) === getAddress(miner) || getAddress(o.owner) === getAddress(miner),
    );
    const offer = offers[0];
    if (!offer) {
      throw new NoRepairAskError("no active repair ask takes this file", {
        details: { size: size.toString(), miner: miner ?? "any" },
      });
    }
    return offer;
  }

  /**
   * Locks the bid for `manifest` at the offer's price (expiring in 1,000 epochs), signs the deal
   * authorization for the offer's miner and ask (valid 500 epochs), and proposes the deal to the
   * miner, which accepts it tentatively with the paths to upload the pieces to.
   *
   * @throws ContractRevertedError (addBid), PeerRejectedError, PeerUnreachableError.
   */
  private async bidAndPropose(
    offer: RepairOffer,
    manifest: Manifest,
    durationEpochs: bigint,
    progress: (event: RepairProgress) => void,
  ): Promise<{ bid: { bidId: bigint; amount: bigint }; accepted: RepairProposalResponse }> {
    const { clients, contracts } = this.c;
    const head = await clients.public.getBlockNumber();
    const bid = await addBid(clients, contracts, {
      droot: manifest.droot,
      pricePerBytePerEpoch: offer.pricePerBytePerEpoch,
      size: encodedPayloadBytes(manifest),
      durationEpochs,
      expiryEpoch: head + 1_000n,
      codingParams: {
        k: manifest.k,
        m: manifest.m,
        pieceSize: BigInt(manifest.pieces[0].paddedSize),
        ...codingOnChain(manifest.coding),
      },
    });
    progress({ stage: "bid", detail: `bid ${bid.bidId} locks ${bid.amount}` });
    const deadline = head + 500n;
    const clientSignature = await signDealAuthorization(clients.account, clients.chain.id, contracts.repairMarket, {
      bidId: bid.bidId,
      askId: offer.askId,
      minerId: offer.minerId,
      deadline,
    });
    const accepted = await proposeRepairDeal(clients.account, minerPeer(offer), {
      bidId: bid.bidId.toString(),
      askId: offer.askId.toString(),
      deadline: deadline.toString(),
      clientSignature,
      manifest,
    }).catch((err: unknown) => {
      throw pledgeRefusal(err, offer, bid.bidId) ?? err;
    });
    progress({ stage: "accepted", detail: `miner ${offer.minerId} (${offer.worker}) accepted tentatively` });
    return { bid, accepted };
  }

  /**
   * PUTs one piece, retrying while the miner is unreachable (it may be restarting).
   *
   * @param onSent Bytes of this piece sent so far in the current attempt.
   */
  private async uploadPiece(
    offer: RepairOffer,
    path: string,
    file: string,
    index: number,
    onSent: (bytes: number) => void,
  ): Promise<void> {
    const { size } = await stat(file);
    const bodySha256 = await fileSha256(file);
    for (let attempt = 1; ; attempt++) {
      try {
        const headers = await signRequest(this.c.clients.account, {
          method: "PUT",
          path,
          bodySha256,
          audience: offer.worker,
        });
        const response = await httpCall(
          {
            method: "PUT",
            url: offer.endpoint + path,
            headers: { ...headers, "content-type": "application/octet-stream", "content-length": String(size) },
            body: countingStream(file, onSent),
            headersTimeoutMs: 180_000,
          },
          { peer: offer.worker, stage: `upload piece ${index}` },
        );
        await response.body.dump();
        return;
      } catch (err) {
        if (!(err instanceof PeerUnreachableError) || attempt >= 5) throw err;
        this.c.logger.warn({ err, attempt, piece: index }, "piece upload to the repair miner failed; retrying");
        await sleep(1000 * attempt);
      }
    }
  }
}

/** A miner's InsufficientPledge refusal as the one line a user acts on, or undefined for other errors. */
function pledgeRefusal(err: unknown, offer: RepairOffer, bidId: bigint): MinerPledgeTooLowError | undefined {
  const refusal = insufficientPledgeOf(err);
  if (!refusal) return undefined;
  return new MinerPledgeTooLowError(
    `repair miner ${refusal.minerId} (${offer.worker}) cannot back this file: its pledge is ${refusal.pledge} ` +
      `token base units, the deal needs ${refusal.required} (${refusal.shortfall} short)`,
    {
      details: {
        ...refusal,
        bidId,
        hint:
          `its owner adds the pledge with \`${refusal.command}\`, or store with another miner (--miner); ` +
          `bid ${bidId} stays open until \`npx repair-market client cancel-bid ${bidId}\``,
      },
      cause: err,
    },
  );
}

/** The miner as a signed-request peer: its worker key signs its answers' audience. */
function minerPeer(offer: RepairOffer): { address: Address; endpoint: string } {
  return { address: offer.worker, endpoint: offer.endpoint };
}

/** A stream of `file`'s bytes that reports how many the upload has taken so far. */
function countingStream(file: string, onSent: (bytes: number) => void): Readable {
  let sent = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      sent += chunk.length;
      onSent(sent);
      done(null, chunk);
    },
  });
  // A read error destroys the counter with it, so the upload fails instead of waiting.
  return pipeline(createReadStream(file), counter, () => undefined);
}
