import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import type { PrivateKeyAccount } from "viem/accounts";
import { BlobStore } from "../core/blob-store";
import { createLogger, type Logger } from "../core/logger";
import { startChainGuard } from "../chain/chain-guard";
import { connectChain } from "../chain/clients";
import { contractsOf } from "../chain/contracts";
import { loadDeployment } from "../chain/deployment";
import { marketParams } from "../chain/storage-market/reads";
import { registerProvider } from "../chain/registry/register";
import type { ProviderConfig } from "./config";
import type { ProviderComponents, ProviderInit } from "./components";
import { ProviderMetrics } from "./metrics";
import { ProviderStore } from "./provider-store";
import { Publisher } from "./publisher";
import { Prover } from "./prover";
import { Settler } from "./settler";
import { Scrubber } from "./scrubber";
import { closeServer, createHttpServer, refuseWhileHalted } from "../core/http-server";
import { registerDealRoutes } from "./http/deal-routes";
import { registerPieceRoutes } from "./http/piece-routes";
import { registerRetrievalRoutes } from "./retrieval/retrieval-routes";
import { RetrievalStore } from "./retrieval/retrieval-store";
import { Redeemer } from "./retrieval/redeemer";

/**
 * The storage provider daemon (seed 001's StorageProvider + RetrievalProvider): an HTTP API for
 * deal proposals, piece uploads and reads, plus background loops that publish deals, prove
 * possession every period, settle payments and scrub stored pieces. A facade: it only wires the
 * components together. `start()` and `stop()` are idempotent.
 *
 * @example
 * const daemon = new ProviderDaemon(config, account);
 * const { url } = await daemon.start();
 * process.on("SIGTERM", () => daemon.stop());
 */
export class ProviderDaemon {
  private components: ProviderComponents | undefined;
  private app: FastifyInstance | undefined;
  private loops: Promise<void>[] = [];
  private abort: AbortController | undefined;
  private publisher: Publisher | undefined;
  private starting: Promise<{ url: string }> | undefined;

  constructor(
    private readonly config: ProviderConfig,
    private readonly account: PrivateKeyAccount,
    private readonly logger: Logger = createLogger("provider", "info", config.logFile),
  ) {}

  /**
   * Opens the store, connects to the chain, listens, registers (unless disabled) and starts the
   * loops.
   *
   * @returns The URL the daemon listens on.
   * @throws RpcUnavailableError, DeploymentNotFoundError, DeploymentMissingError (the chain was
   * reset: it no longer has the deployment's block, or its contracts), ChainDivergedError (the
   * chain no longer holds the block this data dir last saw), listen errors (EADDRINUSE).
   */
  start(): Promise<{ url: string }> {
    this.starting ??= this.doStart();
    return this.starting;
  }

  private async doStart(): Promise<{ url: string }> {
    const { config, logger } = this;
    const store = new ProviderStore(join(config.dataDir, "provider.sqlite"));
    const blobs = new BlobStore(join(config.dataDir, "pieces"));
    const removed = blobs.removeTemps();
    if (removed > 0) logger.warn({ removed }, "removed partial uploads left by a previous run");
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
    const components: ProviderComponents = {
      store,
      blobs,
      clients,
      contracts,
      logger,
      metrics: new ProviderMetrics(),
      loops,
      chainGuard,
    };
    const init: ProviderInit = {
      ...config,
      provingPeriodEpochs: params.provingPeriodEpochs,
      challengeWindowEpochs: params.challengeWindowEpochs,
      challengesPerProof: params.challengesPerProof,
      maxDealDurationEpochs: params.maxDealDurationEpochs,
    };
    this.components = components;
    const publisher = new Publisher(components, init);
    this.publisher = publisher;
    const app = createHttpServer({ logger, config });
    refuseWhileHalted(app, () => chainGuard.halted()?.reason);
    registerDealRoutes(app, components, init, publisher);
    registerPieceRoutes(app, components, init);
    const retrievals = new RetrievalStore(store.db);
    registerRetrievalRoutes(app, components, init, retrievals);
    this.app = app;
    const address = await app.listen({ host: config.host, port: config.port });
    const url = config.publicUrl ?? address;
    this.abort = new AbortController();
    const signal = this.abort.signal;
    this.loops = [
      publisher.run(signal),
      // The `stopProving` fault: every data set of this provider goes unproven.
      ...(config.faults.stopProving ? [] : [new Prover(components, init).run(signal)]),
      new Settler(components, init, publisher).run(signal),
      new Scrubber(components, init, publisher).run(signal),
      new Redeemer(components, init, retrievals).run(signal),
      // Checks the chain and moves the data dir's checkpoint forward while it is the same chain.
      chainGuard.run(signal, loops),
    ];
    // The loops start first: a restarted provider proves its current period before it spends
    // a block on updating its registration.
    if (config.register) {
      try {
        const { hash, updated } = await registerProvider(clients, contracts, url, {
          storageAsk: config.storageAsk,
          retrievalAsk: config.retrievalAsk,
        });
        logger.info({ url, hash, updated }, "registered in ProviderRegistry");
      } catch (err) {
        this.abort.abort();
        this.publisher.stop();
        await Promise.allSettled(this.loops);
        await app.close();
        store.close();
        this.starting = undefined;
        throw err;
      }
    }
    logger.info({ address: this.account.address, url, chainId: clients.chain.id }, "provider started");
    return { url: address };
  }

  /** Stops the loops, closes the HTTP server and the database. */
  async stop(): Promise<void> {
    if (!this.starting) return;
    await this.starting.catch(() => undefined);
    this.starting = undefined;
    this.abort?.abort();
    this.publisher?.stop();
    await Promise.allSettled(this.loops);
    if (this.app) await closeServer(this.app);
    this.components?.store.close();
    this.logger.info("provider stopped");
  }
}
