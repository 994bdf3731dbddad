import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { AddressInfo } from "node:net";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { getAddress } from "viem";
import type { FastifyInstance } from "fastify";
import { closeServer, createHttpServer, sendHealth } from "../core/http-server";
import { LoopHealth } from "../core/loop-health";
import { SOFTWARE_VERSION } from "../core/version";
import { rpcEndpointName, startChainGuard, type ChainGuard } from "../chain/chain-guard";
import type { ChainReader, DeploymentRef } from "../chain/chain-identity";
import { HEALTH_PATH, healthResponse } from "../protocol/health-api";
import type { Logger } from "../core/logger";
import { runRetrievalAttempt, runStorageAttempt, type BotDeps } from "./bots";
import { ControllerStore } from "./controller-store";
import { DASHBOARD_HTML } from "./dashboard";
import type { DealbotRecord } from "./record";
import {
  COMPONENTS,
  DEFAULT_REPUTATION_WEIGHTS,
  DEFAULT_REPUTATION_WINDOW_MS,
  checkWeights,
  rankProviders,
  type ProviderScore,
  type ReputationWeights,
} from "./reputation";
import { ProvingSync, type ProvingSyncResult } from "./proving-sync";
import { REPUTATION_PATH, type ReputationResponse } from "../protocol/reputation-api";
import { InvalidArgumentError } from "../core/errors";

/** The controller's schedule and server settings. Intervals in ms, sizes in bytes. */
export interface ControllerConfig {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Path of the controller's SQLite database. */
  dbPath: string;
  /** A storage attempt with a random registered provider this often (0: never). */
  storageIntervalMs: number;
  /** A retrieval of something stored earlier this often (0: never). */
  retrievalIntervalMs: number;
  /** Sizes to store, one picked at random per attempt. */
  sizes: number[];
  durationEpochs?: number;
  priceLimit?: bigint;
  /** Distinct providers given their own metric label; later ones share "other". */
  maxProviderLabels: number;
  /**
   * Scores count only what happened in the last `reputationWindowMs` ms: records started and
   * proving events in blocks after now − window (default `DEFAULT_REPUTATION_WINDOW_MS`, 7 days).
   */
  reputationWindowMs?: number;
  /** Component weights (default proving 0.40, retrieval 0.35, storage 0.25). */
  reputationWeights?: ReputationWeights;
  /** Read the chain's proving events this often, ms (default 60,000; 0: never, only `syncProving()`). */
  provingSyncIntervalMs?: number;
  /** Blocks per `eth_getLogs` range when reading proving events, 1 to 2,000 (default 2,000). */
  provingChunkBlocks?: number;
  /** Clock for the window, ms since the epoch (default `Date.now`; tests inject one). */
  clock?: () => number;
  /**
   * The deployment the chain must keep (the CLI passes its file): a chain reset under the
   * controller halts its schedules, and its anchor and checkpoint are kept in the controller's
   * database. Without one, health still reports the chain.
   */
  deployment?: DeploymentRef;
  /** How often the chain is checked, ms (default 15,000). */
  chainCheckIntervalMs?: number;
  /** Reads for the chain checks (default: a fast-failing client on the RPC URL; tests pass the in-process chain's). */
  chainReader?: ChainReader;
}

/** Default interval between reads of the chain's proving events, ms. */
export const DEFAULT_PROVING_SYNC_INTERVAL_MS = 60_000;

export type { ReputationResponse };

/** The controller's Prometheus metrics: label values come from small fixed sets or a capped provider list. */
class DealbotMetrics {
  readonly registry = new Registry();
  readonly attempts = new Counter({
    name: "rm_dealbot_attempts_total",
    help: "Dealbot attempts by kind, provider and status",
    labelNames: ["kind", "provider", "status"] as const,
    registers: [this.registry],
  });
  readonly stageFailures = new Counter({
    name: "rm_dealbot_stage_failures_total",
    help: "Failed dealbot attempts by kind and the stage they failed in",
    labelNames: ["kind", "stage"] as const,
    registers: [this.registry],
  });
  readonly ttfb = new Histogram({
    name: "rm_dealbot_time_to_first_byte_seconds",
    help: "Attempt start to first byte moved",
    labelNames: ["kind", "provider"] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly ttlb = new Histogram({
    name: "rm_dealbot_time_to_last_byte_seconds",
    help: "Attempt start to last byte moved",
    labelNames: ["kind", "provider"] as const,
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  readonly score = new Gauge({
    name: "rm_dealbot_provider_score",
    help: "Provider reputation in the window (weighted Wilson lower bounds of storage, retrieval and proving)",
    labelNames: ["provider"] as const,
    registers: [this.registry],
  });
  readonly component = new Gauge({
    name: "rm_dealbot_provider_component_score",
    help: "Wilson lower bound of one reputation component (storage, retrieval, proving) in the window",
    labelNames: ["provider", "component"] as const,
    registers: [this.registry],
  });
}

const STAGES = new Set(["select", "prepare", "propose", "transfer", "publish", "open", "verify", "start"]);

/**
 * Seed 004's bot orchestrator: makes storage deals with random registered providers and later
 * retrieves what it stored, at configured rates; keeps every record in SQLite; exposes Prometheus
 * metrics, a reputation feed (read by repair miners for placement) and a dashboard page. The
 * reputation is windowed and also reads the chain's proving record (decisions 33).
 */
export class DealbotController {
  readonly store: ControllerStore;
  private readonly metrics = new DealbotMetrics();
  private readonly labelled = new Set<string>();
  private app?: FastifyInstance;
  /** Stops the schedules (each waits for its attempt in flight before it ends). */
  private readonly abort = new AbortController();
  private readonly loops: Promise<void>[] = [];
  /** Every schedule's last round, and the gate that stops them while the chain is not the deployment's. */
  private loopHealth = new LoopHealth();
  private chainGuard?: ChainGuard;
  private readonly proving: ProvingSync;
  private readonly windowMs: number;
  private readonly weights: ReputationWeights;
  private readonly now: () => number;
  /** Where the server listens, once started. */
  url?: string;

  constructor(
    private readonly config: ControllerConfig,
    private readonly deps: BotDeps,
    private readonly logger: Logger,
    /** Called with every record (e.g. to print it as a JSON line). */
    private readonly onRecord?: (record: DealbotRecord) => void,
  ) {
    this.windowMs = config.reputationWindowMs ?? DEFAULT_REPUTATION_WINDOW_MS;
    if (!Number.isFinite(this.windowMs) || this.windowMs <= 0)
      throw new InvalidArgumentError("reputation window must be a positive number of ms", {
        details: { reputationWindowMs: this.windowMs },
      });
    this.weights = checkWeights({ ...(config.reputationWeights ?? DEFAULT_REPUTATION_WEIGHTS) });
    this.now = config.clock ?? Date.now;
    this.store = new ControllerStore(config.dbPath);
    this.proving = new ProvingSync(this.store, deps.clients, deps.contracts.storageMarket, {
      chunkBlocks: BigInt(config.provingChunkBlocks ?? 2000),
      windowMs: this.windowMs,
      now: this.now,
    });
  }

  /**
   * Checks the chain (the deployment's block, when configured), then starts the HTTP server and
   * the schedules.
   *
   * @throws DeploymentMissingError, ChainDivergedError (the chain was reset or is another one),
   * RpcUnavailableError, listen errors.
   */
  async start(): Promise<{ url: string }> {
    const { deployment, chainCheckIntervalMs, chainReader } = this.config;
    const guarded = await startChainGuard(
      {
        clients: this.deps.clients,
        logger: this.logger,
        store: deployment ? this.store : undefined,
        reader: chainReader,
      },
      { deployment, checkIntervalMs: chainCheckIntervalMs },
    );
    this.chainGuard = guarded.chainGuard;
    this.loopHealth = guarded.loops;
    this.loops.push(guarded.chainGuard.run(this.abort.signal, guarded.loops));
    const app = createHttpServer({ logger: this.logger, config: { maxJsonBodyBytes: 1 << 16 } });
    this.routes(app);
    await app.listen({ host: this.config.host, port: this.config.port });
    this.app = app;
    const provingEveryMs = this.config.provingSyncIntervalMs ?? DEFAULT_PROVING_SYNC_INTERVAL_MS;
    // The first read before the feed is served, so its scores include the proving record.
    if (provingEveryMs > 0)
      await this.syncProving().catch((err: unknown) =>
        this.logger.warn({ err: (err as Error).message.split("\n")[0] }, "proving events unavailable"),
      );
    this.refreshScores();
    this.schedule("proving", provingEveryMs, async () => {
      await this.syncProving();
    });
    this.schedule("storage", this.config.storageIntervalMs, () => this.storageAttempt());
    this.schedule("retrieval", this.config.retrievalIntervalMs, () => this.retrievalAttempt());
    const { port } = app.server.address() as AddressInfo;
    this.url = `http://${this.config.host}:${port}`;
    return { url: this.url };
  }

  /** Stops scheduling, waits for attempts in flight, closes the server and the database. */
  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.allSettled(this.loops);
    if (this.app) await closeServer(this.app);
    this.store.close();
  }

  /** Records an attempt made elsewhere (or by the schedule): database, metrics, scores. */
  record(record: DealbotRecord): void {
    this.store.add(record);
    const provider = this.label(record.dealParameters.provider);
    this.metrics.attempts.inc({ kind: record.kind, provider, status: record.status });
    if (record.status === "failure") {
      const stage = STAGES.has(record.failedAt ?? "") ? (record.failedAt as string) : "other";
      this.metrics.stageFailures.inc({ kind: record.kind, stage });
    }
    if (record.timings.timeToFirstByteMs !== undefined)
      this.metrics.ttfb.observe({ kind: record.kind, provider }, record.timings.timeToFirstByteMs / 1000);
    if (record.status === "success" && record.timings.timeToLastByteMs !== undefined)
      this.metrics.ttlb.observe({ kind: record.kind, provider }, record.timings.timeToLastByteMs / 1000);
    this.refreshScores();
    this.onRecord?.(record);
  }

  /**
   * Reads the chain's proving events mined since the last read (`ProvingSync`) and refreshes the
   * score metrics.
   *
   * @throws viem's RPC errors.
   */
  async syncProving(): Promise<ProvingSyncResult> {
    const result = await this.proving.sync(this.abort.signal);
    if (!this.abort.signal.aborted) this.refreshScores();
    return result;
  }

  /** Current reputation of every provider with records in the window, best first. */
  reputation(): ReputationResponse {
    const ranking = this.ranking();
    return {
      scores: Object.fromEntries(ranking.map((r) => [r.provider, r.score])),
      ranking,
      updatedAt: new Date(this.now()).toISOString(),
      windowMs: this.windowMs,
      weights: { ...this.weights },
    };
  }

  private ranking(): ProviderScore[] {
    return rankProviders(this.store.windowCounts(this.now() - this.windowMs, this.proving.market), this.weights);
  }

  private refreshScores(): void {
    // Providers that left the window drop out of the gauges too.
    this.metrics.score.reset();
    this.metrics.component.reset();
    for (const r of this.ranking()) {
      const provider = this.label(r.provider);
      this.metrics.score.set({ provider }, r.score);
      for (const component of COMPONENTS) this.metrics.component.set({ provider, component }, r[component].score);
    }
  }

  /** The provider's metric label: its address for the first `maxProviderLabels`, then "other". */
  private label(provider: string): string {
    const p = provider.toLowerCase();
    if (this.labelled.has(p)) return p;
    if (this.labelled.size < this.config.maxProviderLabels) {
      this.labelled.add(p);
      return p;
    }
    return "other";
  }

  /**
   * Runs `attempt` at once and then `intervalMs` after each one ends (never two of a kind at once),
   * in the daemons' one loop (`runEvery`); `stop()` ends it.
   */
  private schedule(kind: string, intervalMs: number, attempt: () => Promise<void>): void {
    if (intervalMs <= 0) return;
    this.loops.push(
      this.loopHealth.run(kind, intervalMs, this.abort.signal, attempt, (err) =>
        this.logger.error(
          { err, kind },
          kind === "proving" ? "reading proving events failed" : "dealbot attempt crashed",
        ),
      ),
    );
  }

  /** GET /healthz (`protocol/health-api.ts`): the chain and every schedule's last round; 503 with the reason. */
  private health(): ReturnType<typeof healthResponse> {
    return healthResponse({
      role: "dealbot-controller",
      version: SOFTWARE_VERSION,
      address: this.deps.clients.account.address,
      chain: this.chainGuard?.status() ?? {
        chainId: this.deps.clients.chain.id,
        rpcEndpoint: rpcEndpointName(this.deps.clients.chain.rpcUrls.default.http[0] ?? ""),
        rpcReachable: true,
      },
      loops: this.loopHealth.snapshot(),
      stale: this.loopHealth.stale(),
    });
  }

  private async storageAttempt(): Promise<void> {
    const size = this.config.sizes[Math.floor(Math.random() * this.config.sizes.length)];
    const record = await runStorageAttempt(this.deps, {
      provider: "random",
      size,
      ...(this.config.durationEpochs !== undefined ? { duration: this.config.durationEpochs } : {}),
      ...(this.config.priceLimit !== undefined ? { priceLimit: this.config.priceLimit } : {}),
    });
    this.record(record);
  }

  private async retrievalAttempt(): Promise<void> {
    const target = this.store.nextRetrievalTarget();
    if (!target) return;
    this.record(
      await runRetrievalAttempt(this.deps, { pieceCid: target.pieceCid, provider: getAddress(target.provider) }),
    );
  }

  private routes(app: FastifyInstance): void {
    // chart.js's package exports do not list the UMD build; find it next to the CommonJS entry.
    const chartJs = readFileSync(join(dirname(require.resolve("chart.js")), "chart.umd.min.js"), "utf8");
    app.get("/", async (_request, reply) => reply.type("text/html; charset=utf-8").send(DASHBOARD_HTML));
    app.get("/assets/chart.umd.min.js", async (_request, reply) =>
      reply.type("application/javascript").header("cache-control", "max-age=3600").send(chartJs),
    );
    app.get(HEALTH_PATH, (_request, reply) => sendHealth(reply, this.health()));
    app.get("/metrics", async (_request, reply) =>
      reply.type(this.metrics.registry.contentType).send(await this.metrics.registry.metrics()),
    );
    app.get(REPUTATION_PATH, async () => this.reputation());
    app.get<{ Querystring: { limit?: string; provider?: string } }>("/api/records", async (request) => {
      const limit = Math.min(Math.max(Number(request.query.limit ?? 100) || 100, 1), 1000);
      return this.store.recent(limit, request.query.provider);
    });
    app.get<{ Querystring: { bucketMs?: string } }>("/api/summary", async (request) => {
      const bucketMs = Math.max(Number(request.query.bucketMs ?? 60_000) || 60_000, 1000);
      const reputation = this.reputation();
      return {
        ranking: reputation.ranking,
        windowMs: reputation.windowMs,
        weights: reputation.weights,
        failuresByStage: this.store.failuresByStage(),
        rateOverTime: this.store.rateOverTime(bucketMs),
        latencies: this.store.latencies(),
        recentFailures: this.store.recentFailures(20),
        bucketMs,
      };
    });
  }
}
