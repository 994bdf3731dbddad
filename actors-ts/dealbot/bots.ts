import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { once } from "node:events";
import { getAddress, type Address } from "viem";
import type { ChainClients } from "../chain/clients";
import type { MarketContracts } from "../chain/contracts";
import { getProvider, listProviders, type RegisteredProvider } from "../chain/registry/reads";
import type { ClientStore } from "../client/client-store";
import { StorageClient, type StoreProgress } from "../client/storage-client";
import { RetrievalClient } from "../client/retrieval/retrieval-client";
import { InvalidArgumentError } from "../core/errors";
import { fileSha256 } from "../core/file-hash";
import type { ErasurePool } from "../erasure/erasure-pool";
import { SOFTWARE_VERSION } from "../core/version";
import { AttemptRecorder, type DealbotRecord, type StageLimits } from "./record";
import type { RetrievalTask, StorageTask } from "./tasks";

/** What both bots need: a funded client account on a chain, and a place for temporary files. */
export interface BotDeps {
  clients: ChainClients;
  contracts: MarketContracts;
  /** The bot's own client database (deals, channels, vouchers). */
  store: ClientStore;
  /** Directory for generated data and downloads in progress. */
  workDir: string;
  limits: StageLimits;
  /** Also gets every log line of every attempt (e.g. to a log file). */
  echo?: (line: string) => void;
  /** Needed only for whole-file (droot) retrievals: rebuilds the file from k pieces. */
  pool?: ErasurePool;
}

/**
 * Default stage limits, ms. Storage: select → prepare → propose → transfer → publish.
 * Retrieval: select → open → transfer (chunks are verified as they arrive) → verify.
 */
export const DEFAULT_STAGE_LIMITS: StageLimits = {
  timeoutMs: {
    select: 10_000,
    prepare: 120_000,
    propose: 30_000,
    transfer: 300_000,
    publish: 120_000,
    open: 30_000,
    verify: 60_000,
  },
  stallMs: 30_000,
  stallExempt: ["publish"],
};

/** Chain id and node version for records (seed 004's lotusVersion). */
export async function chainVersion(clients: ChainClients): Promise<DealbotRecord["chain"]> {
  const clientVersion = await clients.public
    .request({ method: "web3_clientVersion" } as never)
    .then((v) => String(v))
    .catch(() => "unknown");
  return { chainId: clients.chain.id, clientVersion };
}

/**
 * One storage attempt (seed 004 "Storage Bot"): pick the provider (or a random registered one),
 * generate `size` random bytes, and make a direct storage deal with them up to publication on
 * chain. Never throws: every failure is a record naming the stage it happened in.
 */
export async function runStorageAttempt(deps: BotDeps, task: StorageTask): Promise<DealbotRecord> {
  const rec = new AttemptRecorder("storage", deps.limits, deps.echo);
  const params: DealbotRecord["dealParameters"] = { provider: task.provider, sizeInBytes: task.size };
  const chain = await chainVersion(deps.clients);
  let transferDoneAt: number | undefined;
  let publishedAt: number | undefined;
  const file = join(deps.workDir, `storage-${Date.now()}-${randomBytes(4).toString("hex")}.bin`);
  try {
    rec.enter("select");
    rec.eventOf("ClientEventOpen", "StorageDealUnknown");
    const provider = await rec.guard(pickProvider(deps, task.provider));
    params.provider = provider.address;
    if (task.priceLimit !== undefined && provider.storageAsk.pricePerBytePerEpoch > task.priceLimit) {
      throw new InvalidArgumentError(
        `provider ${provider.address} asks ${provider.storageAsk.pricePerBytePerEpoch} per byte per epoch, above the task's price limit ${task.priceLimit}`,
      );
    }
    rec.enter("prepare");
    await mkdir(deps.workDir, { recursive: true });
    params.sha256 = await rec.guard(randomFile(file, task.size, () => rec.progress()));
    const storage = new StorageClient({ ...deps, logger: rec.logger });
    let sentBefore = 0;
    const onProgress = (e: StoreProgress) => {
      rec.progress();
      if (e.stage === "commp") {
        params.pieceCid = e.pieceCid;
        rec.eventOf("ClientEventDataPrepared", "StorageDealFundsReserved");
        rec.enter("propose");
      } else if (e.stage === "escrow") {
        rec.eventOf("ClientEventFundsEnsured", "StorageDealFundsEnsured");
      } else if (e.stage === "proposed") {
        rec.eventOf("ClientEventDealProposed", "StorageDealWaitingForData");
        rec.enter("transfer");
      } else if (e.stage === "upload") {
        rec.moved(e.sent - sentBefore);
        sentBefore = e.sent;
      } else if (e.stage === "uploaded") {
        // The provider has every byte and checked the commitment (bytes sent are not bytes received).
        transferDoneAt = Date.now();
        rec.eventOf("ClientEventDataTransferComplete", "StorageDealTransferring");
        rec.enter("publish");
      } else if (e.stage === "published") {
        publishedAt = Date.now();
        params.dealId = e.dealId.toString();
        rec.eventOf("ClientEventDealPublished", "StorageDealPublished");
      }
    };
    const stored = await rec.guard(
      storage.storeFile(file, {
        provider: provider.address,
        ...(task.duration !== undefined ? { durationEpochs: BigInt(task.duration) } : {}),
        maxUploadAttempts: 1, // a bot measures; it does not retry
        onProgress,
      }),
    );
    params.dealId = stored.dealId.toString();
    params.durationEpochs = (stored.proposal.endEpoch - stored.proposal.startEpoch).toString();
    params.pricePerEpoch = stored.proposal.storagePricePerEpoch.toString();
    rec.paid = stored.proposal.storagePricePerEpoch;
    return rec.finish({
      dealParameters: params,
      onChainConfirmationMs:
        transferDoneAt !== undefined && publishedAt !== undefined ? publishedAt - transferDoneAt : undefined,
      softwareVersion: SOFTWARE_VERSION,
      chain,
    });
  } catch (err) {
    return rec.finish({ dealParameters: params, softwareVersion: SOFTWARE_VERSION, chain }, err);
  } finally {
    await rm(file, { force: true });
  }
}

/**
 * One retrieval attempt (seed 004 "Retrieval Bot"): fetch `pieceCid` from `provider`, paid
 * through a payment channel, every chunk checked against the commitment. Never throws.
 */
export async function runRetrievalAttempt(deps: BotDeps, task: RetrievalTask): Promise<DealbotRecord> {
  if ("droot" in task) return runFileRetrievalAttempt(deps, task);
  const rec = new AttemptRecorder("retrieval", deps.limits, deps.echo);
  const params: DealbotRecord["dealParameters"] = { provider: task.provider, pieceCid: task.pieceCid };
  const chain = await chainVersion(deps.clients);
  const out = join(deps.workDir, `retrieval-${Date.now()}-${randomBytes(4).toString("hex")}.bin`);
  try {
    rec.enter("select");
    const provider = await rec.guard(pickProvider(deps, task.provider));
    rec.enter("open");
    const retrieval = new RetrievalClient({ ...deps, logger: rec.logger });
    await mkdir(deps.workDir, { recursive: true });
    const result = await rec.guard(
      retrieval.retrievePiece(task.pieceCid, provider.address, out, {
        signal: rec.signal,
        stallTimeoutMs: deps.limits.stallMs,
        onEvent: (line) => {
          rec.event(line);
          const paid = /Paid (\d+)/.exec(line)?.[1];
          if (paid) rec.paid = BigInt(paid);
          if (line.includes("ClientEventDealAccepted")) rec.enter("transfer");
        },
        onBytes: (n) => rec.moved(n),
      }),
    );
    rec.enter("verify");
    params.sha256 = await fileSha256(out);
    params.sizeInBytes = result.bytes;
    rec.paid = result.paid;
    return rec.finish({ dealParameters: params, softwareVersion: SOFTWARE_VERSION, chain });
  } catch (err) {
    // A commitment mismatch is found while verifying chunks, whatever stage the bytes arrived in.
    if ((err as Error).name === "PieceCommitmentMismatchError") rec.enter("verify");
    return rec.finish({ dealParameters: params, softwareVersion: SOFTWARE_VERSION, chain }, err);
  } finally {
    await rm(out, { force: true });
  }
}

/** A whole file by droot, from any k of its providers: one record for the whole retrieval. */
async function runFileRetrievalAttempt(
  deps: BotDeps,
  task: { droot: string; provider?: Address },
): Promise<DealbotRecord> {
  const rec = new AttemptRecorder("retrieval", deps.limits, deps.echo);
  const params: DealbotRecord["dealParameters"] = { provider: task.provider ?? "any", droot: task.droot };
  const chain = await chainVersion(deps.clients);
  const out = join(deps.workDir, `file-${Date.now()}-${randomBytes(4).toString("hex")}.bin`);
  try {
    if (!deps.pool) throw new InvalidArgumentError("a droot retrieval needs an erasure pool to rebuild the file");
    rec.enter("open");
    await mkdir(deps.workDir, { recursive: true });
    const retrieval = new RetrievalClient({ ...deps, logger: rec.logger });
    const result = await rec.guard(
      retrieval.retrieveFile(task.droot as `0x${string}`, out, {
        signal: rec.signal,
        stallTimeoutMs: deps.limits.stallMs,
        onEvent: (line) => rec.event(line),
        onBytes: (n) => {
          if (rec.current === "open") rec.enter("transfer");
          rec.moved(n);
        },
      }),
    );
    rec.enter("verify");
    params.sha256 = await fileSha256(out);
    params.sizeInBytes = result.fileSize;
    rec.paid = result.paid;
    return rec.finish({ dealParameters: params, softwareVersion: SOFTWARE_VERSION, chain });
  } catch (err) {
    return rec.finish({ dealParameters: params, softwareVersion: SOFTWARE_VERSION, chain }, err);
  } finally {
    await rm(out, { force: true });
  }
}

/**
 * The registered provider `which` names, or a random registered one (never the bot itself).
 *
 * @throws InvalidArgumentError when it is not registered or none is.
 */
async function pickProvider(deps: BotDeps, which: string): Promise<RegisteredProvider> {
  if (which !== "random") {
    const provider = await getProvider(deps.clients, deps.contracts, getAddress(which));
    if (!provider) throw new InvalidArgumentError(`provider ${which} is not registered`);
    return provider;
  }
  const self = deps.clients.account.address.toLowerCase();
  const all = (await listProviders(deps.clients, deps.contracts)).filter((p) => p.address.toLowerCase() !== self);
  if (all.length === 0) throw new InvalidArgumentError("no registered provider to choose from");
  return all[Math.floor(Math.random() * all.length)];
}

/** Writes `size` random bytes to `path` (streamed, 1 MiB at a time); returns their SHA-256 (hex). */
async function randomFile(path: string, size: number, onChunk: () => void): Promise<string> {
  const hash = createHash("sha256");
  const out = createWriteStream(path);
  for (let left = size; left > 0;) {
    const chunk = randomBytes(Math.min(left, 1 << 20));
    hash.update(chunk);
    left -= chunk.length;
    if (!out.write(chunk)) await once(out, "drain");
    onChunk();
  }
  out.end();
  await once(out, "finish");
  return hash.digest("hex");
}
