import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { AddressInfo } from "node:net";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { getAddress } from "viem";
import type { FastifyInstance } from "fastify";
import { createHttpServer } from "../core/http-server";
import type { Logger } from "../core/logger";
import { runRetrievalAttempt, runStorageAttempt, type BotDeps } from "./bots";
import { ControllerStore } from "./controller-store";
import { DASHBOARD_HTML } from "./dashboard";
import type { DealbotRecord } from "./record";
import { rankProviders } from "./reputation";
import { REPUTATION_PATH, type ReputationResponse } from "../protocol/reputation-api";
import { runEvery } from "../core/abort";

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
}

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
    help: "Provider reputation (Wilson lower bound of the success rate)",
    labelNames: ["provider"] as const,
    registers: [this.registry],
  });
}

const STAGES = new Set(["select", "prepare", "propose", "transfer", "publish", "open", "verify", "start"]);

/**
 * Seed 004's bot orchestrator: makes storage deals with random registered providers and later
 * retrieves what it stored, at configured rates; keeps every record in SQLite; exposes Prometheus
 * metrics, a reputation feed (read by repair miners for placement) and a dashboard page.
 */
export class DealbotController {
  readonly store: ControllerStore;
  private readonly metrics = new DealbotMetrics();
  private readonly labelled = new Set<string>();
  private app?: FastifyInstance;
  /** Stops the schedules (each waits for its attempt in flight before it ends). */
  private readonly abort = new AbortController();
  private readonly loops: Promise<void>[] = [];
  /** Where the server listens, once started. */
  url?: string;

  constructor(
    private readonly config: ControllerConfig,
    private readonly deps: BotDeps,
    private readonly logger: Logger,
    /** Called with every record (e.g. to print it as a JSON line). */
    private readonly onRecord?: (record: DealbotRecord) => void,
  ) {
    this.store = new ControllerStore(config.dbPath);
  }

  /** Starts the HTTP server and the schedules. */
  async start(): Promise<{ url: string }> {
    const app = createHttpServer({ logger: this.logger, config: { maxJsonBodyBytes: 1 << 16 } });
    this.routes(app);
    await app.listen({ host: this.config.host, port: this.config.port });
    this.app = app;
    this.refreshScores();
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
    await this.app?.close();
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

  /** Current reputation of every provider with records. */
  reputation(): ReputationResponse {
    const ranking = rankProviders(this.store.counts());
    return {
      scores: Object.fromEntries(ranking.map((r) => [r.provider, r.score])),
      ranking,
      updatedAt: new Date().toISOString(),
    };
  }

  private refreshScores(): void {
    for (const r of rankProviders(this.store.counts()))
      this.metrics.score.set({ provider: this.label(r.provider) }, r.score);
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
      runEvery(intervalMs, this.abort.signal, attempt, (err) =>
        this.logger.error({ err, kind }, "dealbot attempt crashed"),
      ),
    );
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
    app.get("/healthz", async () => ({ ok: true }));
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
      return {
        ranking: this.reputation().ranking,
        failuresByStage: this.store.failuresByStage(),
        rateOverTime: this.store.rateOverTime(bucketMs),
        latencies: this.store.latencies(),
        recentFailures: this.store.recentFailures(20),
        bucketMs,
      };
    });
  }
}
