import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import type { PrivateKeyAccount } from "viem/accounts";
import { BlobStore } from "../core/blob-store";
import { Wakeup } from "../core/abort";
import { createLogger, type Logger } from "../core/logger";
import { InvalidStateError } from "../core/errors";
import { startChainGuard } from "../chain/chain-guard";
import { connectChain } from "../chain/clients";
import { contractsOf } from "../chain/contracts";
import { loadDeployment } from "../chain/deployment";
import { marketParams } from "../chain/storage-market/reads";
import { ErasurePool } from "../erasure/erasure-pool";
import { ClientStore } from "../client/client-store";
import { RetrievalLedger } from "../client/retrieval/retrieval-ledger";
import { StorageClient } from "../client/storage-client";
import { closeServer, createHttpServer, refuseWhileHalted } from "../core/http-server";
import type { RepairConfig } from "./config";
import type { RepairComponents, RepairStartup } from "./components";
import { claimOpenDeals, ensureAsk, ensureMiner } from "./miner-identity";
import { ProviderHealth } from "./provider-health";
import { Intake } from "./intake";
import { PledgeKeeper } from "./pledge-keeper";
import { registerIntakeRoutes } from "./intake-routes";
import { registerMinerHealth } from "./miner-health";
import { Placer } from "./placer";
import { ReputationFeed } from "./reputation-feed";
import { Repairer } from "./repairer";
import { StorageDealSettler } from "./deal-settler";
import { escrowView } from "./escrow-view";
import { Withdrawer } from "./withdrawer";
import type { RepairEscrowResponse } from "../protocol/repair-api";
import { RepairStore } from "./repair-store";
import { Watcher } from "./watcher";

/**
 * The repair miner daemon (seeds 000, 002, 003; DESIGN.md "repair miner daemon"): takes repair
 * deals from clients over HTTP, places the pieces with distinct providers as their storage
 * client, watches the chain for faults, rebuilds lost pieces from k healthy ones and re-places
 * them, and claims its earnings; it settles every storage deal of its worker once the market ends
 * it and withdraws what it is owed on a schedule (issue 17, decision 34). A facade over
 * {@link Intake}, {@link Placer}, {@link Watcher}, {@link Repairer}, {@link StorageDealSettler}
 * and {@link Withdrawer}; every step they take is persisted, so a restart resumes the work.
 */
export class RepairDaemon {
  private components: RepairComponents | undefined;
  private app: FastifyInstance | undefined;
  private abort: AbortController | undefined;
  private loops: Promise<void>[] = [];
  private starting: Promise<{ url: string; minerId: bigint }> | undefined;
  /** One per wakeable loop: `components.wake()` wakes them all. */
  private readonly wakeups: Wakeup[] = [];

  constructor(
    private readonly config: RepairConfig,
    private readonly account: PrivateKeyAccount,
    private readonly logger: Logger = createLogger("repair", "info", config.logFile),
  ) {}

  /**
   * Opens the store, connects, listens, finds or creates the miner on chain (by its worker
   * address, so a wiped data dir finds the same miner), keeps an ask posted, and starts the
   * loops.
   *
   * @throws RpcUnavailableError, DeploymentNotFoundError, DeploymentMissingError (the chain was
   * reset: it no longer has the deployment's block, or its contracts), ContractRevertedError
   * (createRepairMiner: not enough tokens for the pledge), ChainDivergedError (the chain no
   * longer holds the block this data dir last saw, or the recorded miner is not this worker's),
   * listen errors.
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
    const clients = await connectChain(config.rpcUrl, this.account, {
      logs: { rangeBlocks: BigInt(config.logRangeBlocks), lookbackBlocks: BigInt(config.logLookbackBlocks) },
    });
    const deployment = loadDeployment(config.deployment, clients.chain.id);
    const guardInit = { deployment, dataDir: config.dataDir, checkIntervalMs: config.chainCheckIntervalMs };
    const { chainGuard, loops } = await startChainGuard({ clients, logger, store }, guardInit).catch((err) => {
      store.close();
      throw err;
    });
    const contracts = contractsOf(deployment);
    const params = await marketParams(clients, contracts);
    const components = this.makeComponents({ store, blobs, clients, contracts, loops, chainGuard });
    this.components = components;
    let minerId = 0n;
    let askId = 0n;
    let escrow: (() => Promise<RepairEscrowResponse>) | undefined;
    const pledge = new PledgeKeeper(components, { ...config, minerId: () => minerId });
    const intake = new Intake(components, { dataDir: config.dataDir, minerId: () => minerId, pledge });
    const app = createHttpServer({ logger, config });
    refuseWhileHalted(app, () => chainGuard.halted()?.reason);
    // The miner's id is known only once the server listens (its URL goes on chain with the
    // miner), so the routes and intake read it, and the renewed ask's, when they answer.
    const routes = {
      minerId: () => minerId,
      askId: () => askId,
      ask: config.ask,
      escrow: async () => escrow?.(),
      checkPledge: (bidSize: bigint) => pledge.check(bidSize),
    };
    registerIntakeRoutes(app, components, routes, intake);
    registerMinerHealth(app, components, () => minerId);
    this.app = app;
    const address = await app.listen({ host: config.host, port: config.port });
    const url = config.publicUrl ?? address;
    minerId = await ensureMiner(components, config, url);
    const startup: RepairStartup = {
      minerId,
      provingPeriodEpochs: params.provingPeriodEpochs,
      deployBlock: BigInt(deployment.deployBlock),
    };
    askId = await ensureAsk(components, config, minerId);
    this.abort = new AbortController();
    const signal = this.abort.signal;
    await intake.resume();
    const watcher = new Watcher(components, { ...config, ...startup });
    const placer = new Placer(components, { ...config, ...startup });
    const repairer = new Repairer(components, config);
    const settler = new StorageDealSettler(components, { ...config, ...startup });
    escrow = () => escrowView(components, settler, { ...config, ...startup });
    this.loops = [
      chainGuard.run(signal, loops),
      this.loop("watcher", config.watchIntervalMs, signal, () => watcher.tick()),
      this.loop("placer", config.workIntervalMs, signal, () => placer.tick(), true),
      this.loop("repairer", config.workIntervalMs, signal, () => repairer.tick(), true),
      this.loop("claimer", config.claimIntervalMs, signal, () => claimOpenDeals(components)),
      this.loop("settler", config.settleIntervalMs, signal, async () => {
        await settler.tick();
      }),
      this.loop("ask", config.askCheckIntervalMs, signal, async () => {
        askId = await ensureAsk(components, config, minerId);
      }),
    ];
    this.loops.push(...this.optionalLoops(components, startup, signal));
    logger.info({ address: this.account.address, url, minerId, askId }, "repair miner started");
    return { url: address, minerId };
  }

  /** The shared services, from those the start-up made (the rest are made here). */
  private makeComponents(
    made: Pick<RepairComponents, "store" | "blobs" | "clients" | "contracts" | "loops" | "chainGuard">,
  ): RepairComponents {
    const { clients, contracts } = made;
    const clientStore = new ClientStore(join(this.config.dataDir, "client.sqlite"));
    return {
      ...made,
      logger: this.logger,
      pool: new ErasurePool(1),
      storage: new StorageClient({ clients, contracts, store: clientStore, logger: this.logger }),
      clientStore,
      ledger: new RetrievalLedger(clientStore.db),
      providers: new ProviderHealth(),
      wake: () => this.wake(),
    };
  }

  /** The loops a setting can turn off: withdrawals (`withdrawIntervalMs` 0) and the reputation feed. */
  private optionalLoops(components: RepairComponents, startup: RepairStartup, signal: AbortSignal): Promise<void>[] {
    const { config } = this;
    const loops: Promise<void>[] = [];
    if (config.withdrawIntervalMs > 0) {
      const withdrawer = new Withdrawer(components, { ...config, ...startup });
      loops.push(
        this.loop("withdrawer", config.withdrawIntervalMs, signal, async () => {
          await withdrawer.tick();
        }),
      );
    }
    if (config.reputationUrl) {
      const feed = new ReputationFeed(config.reputationUrl, this.logger);
      loops.push(
        this.loop("reputation", config.reputationRefreshMs, signal, async () => {
          if (await feed.refresh()) components.providers.setFedScores(feed.scores);
        }),
      );
    }
    return loops;
  }

  /** Runs `step` every `intervalMs` until aborted; wakeable loops also run on `ctx.wake()`. */
  private loop(
    name: string,
    intervalMs: number,
    signal: AbortSignal,
    step: () => Promise<void>,
    wakeable = false,
  ): Promise<void> {
    const loops = this.components?.loops;
    if (!loops) throw new InvalidStateError("the repair miner's loops start after its components");
    return loops.run(
      name,
      intervalMs,
      signal,
      step,
      (err) => this.logger.error({ err, loop: name }, "loop step failed"),
      { wakeup: wakeable ? this.newWakeup() : undefined },
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

  /** Stops the loops, the HTTP server, the worker pool and the databases. */
  async stop(): Promise<void> {
    if (!this.starting) return;
    await this.starting.catch(() => undefined);
    this.starting = undefined;
    this.abort?.abort();
    this.wake();
    await Promise.allSettled(this.loops);
    if (this.app) await closeServer(this.app);
    await this.components?.pool.close();
    this.components?.store.close();
    this.components?.clientStore.close();
    this.logger.info("repair miner stopped");
  }
}
