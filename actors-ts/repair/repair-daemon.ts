import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { zeroAddress } from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import { BlobStore } from "../core/blob-store";
import { Wakeup, runEvery } from "../core/abort";
import { createLogger, type Logger } from "../core/logger";
import { advanceCheckpoint, assertSameChain, ChainDivergedError } from "../chain/checkpoint";
import { connectChain } from "../chain/clients";
import { contractsOf } from "../chain/contracts";
import { loadDeployment } from "../chain/deployment";
import { marketParams } from "../chain/storage-market/reads";
import { addRepairAsk, claimEarnings, createRepairMiner, setMinerEndpoint } from "../chain/repair-market/actions";
import { ErasurePool } from "../erasure/erasure-pool";
import { ClientStore } from "../client/client-store";
import { RetrievalLedger } from "../client/retrieval/retrieval-ledger";
import { StorageClient } from "../client/storage-client";
import { createHttpServer } from "../core/http-server";
import type { RepairConfig } from "./config";
import type { RepairContext } from "./context";
import { Intake } from "./intake";
import { registerIntakeRoutes } from "./intake-routes";
import { getAsk, getMiner, getRepairParams, repairMinerOfWorker } from "../chain/repair-market/reads";
import { Placer } from "./placer";
import { ReputationFeed } from "./reputation-feed";
import { Repairer } from "./repairer";
import { RetiredDealSettler } from "./retired-settler";
import { RepairStore } from "./repair-store";
import { Watcher } from "./watcher";

/**
 * The repair miner daemon (seeds 000, 002, 003; DESIGN.md "repair miner daemon"): takes repair
 * deals from clients over HTTP, places the pieces with distinct providers as their storage
 * client, watches the chain for faults, rebuilds lost pieces from k healthy ones and re-places
 * them, and claims its earnings. A facade over {@link Intake}, {@link Placer}, {@link Watcher}
 * and {@link Repairer}; every step they take is persisted, so a restart resumes the work.
 */
export class RepairDaemon {
  private ctx: RepairContext | undefined;
  private app: FastifyInstance | undefined;
  private abort: AbortController | undefined;
  private loops: Promise<void>[] = [];
  private starting: Promise<{ url: string; minerId: bigint }> | undefined;
  /** One per wakeable loop: `ctx.wake()` wakes them all. */
  private readonly wakeups: Wakeup[] = [];

  constructor(
    private readonly config: RepairConfig,
    private readonly account: PrivateKeyAccount,
    private readonly logger: Logger = createLogger("repair", "info", config.logFile),
  ) {}

  get context(): RepairContext | undefined {
    return this.ctx;
  }

  /**
   * Opens the store, connects, listens, finds or creates the miner on chain (by its worker
   * address, so a wiped data dir finds the same miner), keeps an ask posted, and starts the
   * loops.
   *
   * @throws RpcUnavailableError, DeploymentNotFoundError, ContractRevertedError (createRepairMiner:
   * not enough tokens for the pledge), ChainDivergedError (the chain no longer holds the block
   * this data dir last saw, or the recorded miner is not this worker's), listen errors.
   */
  start(): Promise<{ url: string; minerId: bigint }> {
    this.starting ??= this.doStart();
    return this.starting;
  }

  private async doStart(): Promise<{ url: string; minerId: bigint }> {
    const { config, logger } = this;
    const store = new RepairStore(join(config.dataDir, "repair.sqlite"));
    const blobs = new BlobStore(join(config.dataDir, "pieces"));
    blobs.removeTemps();
    const clients = await connectChain(config.rpcUrl, this.account);
    await assertSameChain(clients, store, config.dataDir);
    await advanceCheckpoint(clients, store);
    const deployment = loadDeployment(config.deployment, clients.chain.id);
    const contracts = contractsOf(deployment);
    const params = await marketParams(clients, contracts);
    const clientStore = new ClientStore(join(config.dataDir, "client.sqlite"));
    const pool = new ErasurePool(1);
    const ctx: RepairContext = {
      config,
      store,
      blobs,
      clients,
      contracts,
      logger,
      pool,
      storage: new StorageClient({ clients, contracts, store: clientStore, logger }),
      clientStore,
      ledger: new RetrievalLedger(clientStore.db),
      minerId: 0n,
      askId: 0n,
      params: { provingPeriodEpochs: params.provingPeriodEpochs },
      deployBlock: BigInt(deployment.deployBlock),
      avoidProviders: new Map(),
      faultedProviders: new Map(),
      fedScores: new Map(),
      wake: () => this.wake(),
    };
    this.ctx = ctx;
    const intake = new Intake(ctx);
    const app = createHttpServer(ctx);
    registerIntakeRoutes(app, ctx, intake);
    this.app = app;
    const address = await app.listen({ host: config.host, port: config.port });
    const url = config.publicUrl ?? address;
    ctx.minerId = await this.ensureMiner(ctx, url);
    ctx.askId = await this.ensureAsk(ctx);
    this.abort = new AbortController();
    const signal = this.abort.signal;
    await intake.resume();
    const watcher = new Watcher(ctx);
    const placer = new Placer(ctx);
    const repairer = new Repairer(ctx);
    const settler = new RetiredDealSettler(ctx);
    this.loops = [
      this.loop("watcher", config.watchIntervalMs, signal, () => watcher.tick()),
      this.loop("placer", config.workIntervalMs, signal, () => placer.tick(), true),
      this.loop("repairer", config.workIntervalMs, signal, () => repairer.tick(), true),
      this.loop("claimer", config.claimIntervalMs, signal, () => this.claim(ctx)),
      this.loop("settler", config.settleIntervalMs, signal, async () => {
        await settler.tick();
      }),
      this.loop("ask", config.askCheckIntervalMs, signal, async () => {
        ctx.askId = await this.ensureAsk(ctx);
      }),
    ];
    if (config.reputationUrl) {
      const feed = new ReputationFeed(config.reputationUrl, logger);
      this.loops.push(
        this.loop("reputation", config.reputationRefreshMs, signal, async () => {
          if (!(await feed.refresh())) return;
          ctx.fedScores.clear();
          for (const [a, score] of feed.scores) ctx.fedScores.set(a, score);
        }),
      );
    }
    logger.info({ address: this.account.address, url, minerId: ctx.minerId, askId: ctx.askId }, "repair miner started");
    return { url: address, minerId: ctx.minerId };
  }

  /** Runs `step` every `intervalMs` until aborted; wakeable loops also run on `ctx.wake()`. */
  private loop(
    name: string,
    intervalMs: number,
    signal: AbortSignal,
    step: () => Promise<void>,
    wakeable = false,
  ): Promise<void> {
    return runEvery(
      intervalMs,
      signal,
      step,
      (err) => this.logger.error({ err, loop: name }, "loop step failed"),
      wakeable ? this.newWakeup() : undefined,
    );
  }

  private newWakeup(): Wakeup {
    const wakeup = new Wakeup();
    this.wakeups.push(wakeup);
    return wakeup;
  }

  private wake(): void {
    for (const wakeup of this.wakeups) wakeup.wake();
  }

  private async ensureMiner(ctx: RepairContext, url: string): Promise<bigint> {
    const { store, clients, contracts, logger } = ctx;
    let minerId = store.get("minerId") ? BigInt(store.get("minerId") as string) : undefined;
    if (minerId === undefined) {
      // A wiped data dir: the miner is found again by its worker address.
      minerId = await repairMinerOfWorker(clients, contracts, clients.account.address);
      if (minerId !== undefined) logger.warn({ minerId }, "no local state: found this worker's repair miner on chain");
    }
    if (minerId === undefined) {
      const repairParams = await getRepairParams(clients, contracts);
      const pledge = this.config.pledge ?? repairParams.pledgePerByte * (1n << 30n);
      ({ minerId } = await createRepairMiner(clients, contracts, clients.account.address, pledge, url));
      logger.info({ minerId, pledge }, "repair miner created on chain");
    } else {
      const miner = await getMiner(clients, contracts, minerId);
      if (miner.owner.toLowerCase() !== clients.account.address.toLowerCase()) {
        // Say what is wrong instead of letting setMinerEndpoint revert NotMinerOwner.
        throw new ChainDivergedError(
          miner.owner === zeroAddress
            ? `repair miner ${minerId} recorded in this data dir does not exist on this chain: ` +
                "the chain was reset or forked from before the miner was created"
            : `repair miner ${minerId} recorded in this data dir belongs to ${miner.owner} on this chain, ` +
                `not to ${clients.account.address}`,
          {
            details: {
              dataDir: this.config.dataDir,
              rpcUrl: this.config.rpcUrl,
              hint: "point --rpc at the chain this data dir was made on, or start with a new --data-dir",
            },
          },
        );
      }
      if (miner.endpoint !== url) await setMinerEndpoint(clients, contracts, minerId, url);
    }
    store.set("minerId", minerId.toString());
    return minerId;
  }

  /** Keeps one active ask at the configured price, renewing it when it nears expiry. */
  private async ensureAsk(ctx: RepairContext): Promise<bigint> {
    const { store, clients, contracts, config } = ctx;
    const head = await clients.public.getBlockNumber();
    const known = store.get("askId");
    if (known) {
      const ask = await getAsk(clients, contracts, BigInt(known));
      if (
        ask.active &&
        ask.minerId === ctx.minerId &&
        ask.expiryEpoch > head + config.ask.validityEpochs / 2n &&
        ask.pricePerBytePerEpoch === config.ask.pricePerBytePerEpoch &&
        ask.maxSize === config.ask.maxSize
      ) {
        return BigInt(known);
      }
    }
    const { askId } = await addRepairAsk(clients, contracts, {
      minerId: ctx.minerId,
      pricePerBytePerEpoch: config.ask.pricePerBytePerEpoch,
      maxSize: config.ask.maxSize,
      expiryEpoch: head + config.ask.validityEpochs,
    });
    store.set("askId", askId.toString());
    ctx.logger.info(
      {
        askId,
        previousAskId: known,
        price: config.ask.pricePerBytePerEpoch,
        expiryEpoch: head + config.ask.validityEpochs,
      },
      known ? "repair ask renewed" : "repair ask posted",
    );
    return askId;
  }

  private async claim(ctx: RepairContext): Promise<void> {
    const open = ctx.store.deals(["placing", "active"]).map((d) => d.dealId);
    if (open.length === 0) return;
    const { amounts } = await claimEarnings(ctx.clients, ctx.contracts, open);
    ctx.logger.info({ deals: open.length, claimed: amounts.reduce((a, b) => a + b, 0n) }, "earnings claimed");
  }

  /** Stops the loops, the HTTP server, the worker pool and the databases. */
  async stop(): Promise<void> {
    if (!this.starting) return;
    await this.starting.catch(() => undefined);
    this.starting = undefined;
    this.abort?.abort();
    this.wake();
    await Promise.allSettled(this.loops);
    await this.app?.close();
    await this.ctx?.pool.close();
    this.ctx?.store.close();
    this.ctx?.clientStore.close();
    this.logger.info("repair miner stopped");
  }
}
