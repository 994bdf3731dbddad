import { createWriteStream, readFileSync } from "node:fs";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Command, Option } from "commander";
import { connectChain } from "../chain/clients";
import { contractsOf } from "../chain/contracts";
import { loadDeployment, type Deployment } from "../chain/deployment";
import { ClientStore } from "../client/client-store";
import { loadAccount } from "../core/keys";
import { createLogger } from "../core/logger";
import { stringifyJson } from "../core/json";
import { DEFAULT_STAGE_LIMITS, runRetrievalAttempt, runStorageAttempt, type BotDeps } from "../dealbot/bots";
import { DealbotController } from "../dealbot/controller";
import { ErasurePool } from "../erasure/erasure-pool";
import type { StageLimits } from "../dealbot/record";
import { parseTasks, retrievalTaskSchema, storageTaskSchema } from "../dealbot/tasks";
import {
  COMPONENTS,
  DEFAULT_REPUTATION_WEIGHTS,
  DEFAULT_REPUTATION_WINDOW_MS,
  checkWeights,
  type ReputationWeights,
} from "../dealbot/reputation";
import {
  chainOptions,
  defaultDataDir,
  deploymentOption,
  jsonOption,
  keyOption,
  parseBigint,
  parseIntOption,
  reportError,
  rpcOption,
  stopOnSignals,
  withOptions,
  type ChainOptions,
} from "./common";
import { InvalidArgumentError } from "../core/errors";

interface BotOptions extends ChainOptions {
  dataDir: string;
  input?: string;
  stageTimeout?: string[];
  stallMs?: number;
  logFile?: string;
  /** Only `dealbot controller` takes these (`chainOptions`). */
  logRangeBlocks?: number;
  logLookbackBlocks?: number;
}

/** Reads the task input: `--input FILE`, or stdin when it is not a terminal. */
function readInput(path: string | undefined): string {
  if (path && path !== "-") return readFileSync(path, "utf8");
  if (process.stdin.isTTY) throw new InvalidArgumentError("no tasks: pass --input FILE or pipe JSON tasks on stdin");
  return readFileSync(0, "utf8");
}

/** `--stage-timeout transfer=60000 …` over the defaults. */
function stageLimits(opts: { stageTimeout?: string[]; stallMs?: number }): StageLimits {
  const timeoutMs = { ...DEFAULT_STAGE_LIMITS.timeoutMs };
  for (const item of opts.stageTimeout ?? []) {
    const m = /^([a-z]+)=(\d+)$/.exec(item);
    if (!m) throw new InvalidArgumentError(`--stage-timeout expects stage=ms (e.g. transfer=60000), got "${item}"`);
    timeoutMs[m[1]] = Number(m[2]);
  }
  return { ...DEFAULT_STAGE_LIMITS, timeoutMs, stallMs: opts.stallMs ?? DEFAULT_STAGE_LIMITS.stallMs };
}

async function openBot(opts: BotOptions): Promise<BotDeps & { close(): void; deployment: Deployment }> {
  const account = loadAccount(opts.key);
  const clients = await connectChain(opts.rpc, account, {
    logs: {
      ...(opts.logRangeBlocks === undefined ? {} : { rangeBlocks: BigInt(opts.logRangeBlocks) }),
      ...(opts.logLookbackBlocks === undefined ? {} : { lookbackBlocks: BigInt(opts.logLookbackBlocks) }),
    },
  });
  const deployment = loadDeployment(opts.deployment, clients.chain.id);
  const contracts = contractsOf(deployment);
  mkdirSync(opts.dataDir, { recursive: true });
  const store = new ClientStore(join(opts.dataDir, "client.sqlite"));
  const log = createWriteStream(opts.logFile ?? join(opts.dataDir, "dealbot.log"), { flags: "a" });
  return {
    clients,
    contracts,
    deployment,
    store,
    workDir: join(opts.dataDir, "work"),
    limits: stageLimits(opts),
    echo: (line) => log.write(line),
    close: () => {
      store.close();
      log.end();
    },
  };
}

function withBotOptions(cmd: Command): Command {
  return cmd
    .option("--data-dir <dir>", "the bot's database, work files and log", defaultDataDir("dealbot"))
    .addOption(keyOption)
    .addOption(rpcOption)
    .addOption(deploymentOption)
    .option("--stage-timeout <stage=ms...>", "limit on one stage's duration (e.g. transfer=60000)")
    .option("--stall-ms <ms>", "an attempt with no progress this long fails in its current stage", parseIntOption)
    .option("--log-file <path>", "append the bots' logs here (default: <data-dir>/dealbot.log)");
}

/** Options of `dealbot controller`. */
interface ControllerOptions extends BotOptions {
  host: string;
  /** TCP port (0: any free port). */
  port: number;
  /** A storage attempt this often, ms (0: never). */
  storageEveryMs: number;
  /** A retrieval of stored data this often, ms (0: never). */
  retrievalEveryMs: number;
  /** Sizes to store, bytes, as given on the command line (one at random per attempt). */
  sizes: string[];
  /** Storage deal duration, epochs. */
  duration?: number;
  /** Most the bots pay, token base units per byte per epoch. */
  priceLimit?: bigint;
  /** Do not print records on stdout. */
  quiet?: boolean;
  /** Scores cover this many ms back from now. */
  reputationWindowMs: number;
  /** `proving=0.4,retrieval=0.35,storage=0.25` (components not named keep their default). */
  reputationWeights?: string;
  /** Read the chain's proving events this often, ms (0: never). */
  provingSyncEveryMs: number;
  /** Check that the chain still has the deployment this often, ms. */
  chainCheckIntervalMs?: number;
}

/** `repair-market dealbot …` (seed 004): one-shot storage and retrieval bots, and the long-running controller. */
export function dealbotCommand(): Command {
  const dealbot = new Command("dealbot").description(
    "storage and retrieval bots that record every attempt as one JSON line, and a controller with metrics, reputation and a dashboard",
  );
  addStorageBot(dealbot);
  addRetrievalBot(dealbot);
  addController(dealbot);
  return dealbot;
}

/** Adds `dealbot storage`: one storage deal per task, one JSON record per attempt on stdout. */
function addStorageBot(parent: Command): void {
  withBotOptions(
    parent
      .command("storage")
      .description(
        "make one storage deal per task and print one JSON record per attempt. Tasks (JSON array or one per line): " +
          '{"provider": "0x…" | "random", "size": BYTES, "duration": EPOCHS, "priceLimit": UNITS_PER_BYTE_PER_EPOCH}',
      )
      .option("--input <file>", "tasks file (default: stdin)"),
  ).action(async (opts: BotOptions) => {
    await runBot(opts, "storage");
  });
}

/** Adds `dealbot retrieval`: one paid retrieval (a piece, or a whole file by droot) per task, one JSON record per attempt. */
function addRetrievalBot(parent: Command): void {
  withBotOptions(
    parent
      .command("retrieval")
      .description(
        "retrieve one piece per task, paid, and print one JSON record per attempt. Tasks: " +
          '{"pieceCid": "bafk…", "provider": "0x…"} (one piece from that provider) or {"droot": "0x…"} (the whole file from any k providers)',
      )
      .option("--input <file>", "tasks file (default: stdin)"),
  ).action(async (opts: BotOptions) => {
    await runBot(opts, "retrieval");
  });
}

/** Adds `dealbot controller`: scheduled bots, records in SQLite, and an HTTP server for metrics, reputation and a dashboard. */
function addController(parent: Command): void {
  withBotOptions(
    withOptions(parent.command("controller"), chainOptions("the schedules"))
      .description(
        "schedule storage deals with random registered providers and retrievals of what was stored; keep records in SQLite; serve /metrics, /api/reputation and a dashboard",
      )
      .option("--host <host>", "interface to listen on", "127.0.0.1")
      .requiredOption("--port <port>", "TCP port (0 = any free port)", parseIntOption)
      .option("--storage-every-ms <ms>", "a storage attempt this often (0: never)", parseIntOption, 60_000)
      .option("--retrieval-every-ms <ms>", "a retrieval of stored data this often (0: never)", parseIntOption, 30_000)
      .option("--sizes <bytes...>", "sizes to store, one at random per attempt", ["1048576"])
      .option("--duration <epochs>", "storage deal duration", parseIntOption)
      .option("--price-limit <units>", "most the bots pay per byte per epoch", parseBigint)
      .option(
        "--reputation-window-ms <ms>",
        "scores count only records and proving events this recent",
        parseIntOption,
        DEFAULT_REPUTATION_WINDOW_MS,
      )
      .option(
        "--reputation-weights <list>",
        "component weights, e.g. proving=0.4,retrieval=0.35,storage=0.25 (renormalised over the components observed)",
      )
      .option(
        "--proving-sync-every-ms <ms>",
        "read the chain's proving events this often (0: never)",
        parseIntOption,
        60_000,
      )
      .addOption(new Option("--quiet", "do not print records on stdout"))
      .addOption(jsonOption),
  ).action(runController);
}

/**
 * `--reputation-weights proving=0.4,retrieval=0.35,storage=0.25`: components not named keep their
 * default weight.
 *
 * @throws InvalidArgumentError on an unknown component, a malformed item or a bad weight.
 */
export function parseReputationWeights(list: string | undefined): ReputationWeights {
  const weights: ReputationWeights = { ...DEFAULT_REPUTATION_WEIGHTS };
  for (const item of (list ?? "").split(",").filter((i) => i.trim() !== "")) {
    const m = /^\s*([a-z]+)\s*=\s*([0-9.]+)\s*$/.exec(item);
    const name = m?.[1] as (typeof COMPONENTS)[number] | undefined;
    if (!m || !name || !COMPONENTS.includes(name))
      throw new InvalidArgumentError(
        `--reputation-weights expects ${COMPONENTS.map((c) => c + "=W").join(",")}, got "${item}"`,
      );
    weights[name] = Number(m[2]);
  }
  return checkWeights(weights);
}

/** `--sizes`: integers of at least 127 bytes (the smallest piece payload). */
function parseSizes(sizes: string[]): number[] {
  return sizes.map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 127) throw new InvalidArgumentError(`--sizes: expected integers ≥ 127, got "${s}"`);
    return n;
  });
}

/**
 * Starts the controller: prints its URL on stderr and a `started` JSON line on stdout, then (unless
 * --quiet) one JSON record per attempt; stops on SIGINT/SIGTERM. Exits 1 if it cannot start.
 */
async function runController(opts: ControllerOptions): Promise<void> {
  try {
    const deps = await openBot(opts);
    const sizes = parseSizes(opts.sizes);
    const logger = createLogger("dealbot", "info", opts.logFile ?? join(opts.dataDir, "controller.log"));
    const controller = new DealbotController(
      {
        host: opts.host,
        port: opts.port,
        dbPath: join(opts.dataDir, "controller.sqlite"),
        storageIntervalMs: opts.storageEveryMs,
        retrievalIntervalMs: opts.retrievalEveryMs,
        sizes,
        durationEpochs: opts.duration,
        priceLimit: opts.priceLimit,
        maxProviderLabels: 200,
        reputationWindowMs: opts.reputationWindowMs,
        reputationWeights: parseReputationWeights(opts.reputationWeights),
        provingSyncIntervalMs: opts.provingSyncEveryMs,
        deployment: deps.deployment,
        chainCheckIntervalMs: opts.chainCheckIntervalMs,
      },
      deps,
      logger,
      opts.quiet ? undefined : (record) => process.stdout.write(stringifyJson(record) + "\n"),
    );
    const { url } = await controller.start();
    process.stderr.write(`dealbot controller on ${url} (dashboard ${url}/, metrics ${url}/metrics)\n`);
    process.stdout.write(stringifyJson({ event: "started", role: "dealbot-controller", url, pid: process.pid }) + "\n");
    stopOnSignals({
      stop: async () => {
        await controller.stop();
        deps.close();
      },
    });
  } catch (err) {
    reportError(err, false);
    process.exit(1);
  }
}

/** Runs every task in order, one JSON record per line on stdout; exit code 0 even when attempts fail. */
async function runBot(opts: BotOptions, kind: "storage" | "retrieval"): Promise<void> {
  let deps: (BotDeps & { close(): void }) | undefined;
  try {
    const text = readInput(opts.input);
    const tasks = kind === "storage" ? parseTasks(text, storageTaskSchema) : parseTasks(text, retrievalTaskSchema);
    deps = await openBot(opts);
    // Whole-file (droot) retrievals rebuild the file on an erasure pool.
    if (tasks.some((t) => "droot" in (t as object))) deps.pool = new ErasurePool();
    for (const task of tasks) {
      const record =
        kind === "storage"
          ? await runStorageAttempt(deps, task as never)
          : await runRetrievalAttempt(deps, task as never);
      process.stdout.write(stringifyJson(record) + "\n");
    }
  } catch (err) {
    reportError(err, false);
    process.exitCode = 1;
  } finally {
    await deps?.pool?.close();
    deps?.close();
  }
  // An attempt cut off by a stage limit may leave a request to a silent peer open: the records
  // are out, so exit instead of waiting for it.
  process.stdout.write("", () => process.exit(process.exitCode ?? 0));
}
