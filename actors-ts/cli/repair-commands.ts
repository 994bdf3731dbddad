import { readFileSync } from "node:fs";
import { Command } from "commander";
import { loadAccount } from "../core/keys";
import { repairConfigSchema } from "../repair/config";
import { RepairDaemon } from "../repair/repair-daemon";
import type { RepairDealStatusResponse, RepairEscrowResponse } from "../protocol/repair-api";
import { getRepairDealStatus, getRepairEscrow, listRepairDeals } from "../protocol/repair-miner-client";
import type { HealthResponse } from "../protocol/health-api";
import { getHealth } from "../protocol/health-client";
import {
  chainOptions,
  defaultDataDir,
  deploymentOption,
  jsonOption,
  keyOption,
  parseBigint,
  parseIntOption,
  printJson,
  reportError,
  rpcOption,
  stopOnSignals,
  withOptions,
  type ChainOptions,
} from "./common";
import { addWithdraw } from "./money-commands";
import { addAddPledge } from "./pledge-commands";

/** Options of `repair start`; unset ones fall back to --config, then to the config's defaults. */
interface RepairStartOptions extends ChainOptions {
  dataDir: string;
  host: string;
  /** TCP port (0: any free port). */
  port: number;
  publicUrl?: string;
  /** JSON file with any repair-miner setting (flags win). */
  config?: string;
  /** Repair ask, token base units per encoded payload byte per epoch. */
  pricePerBytePerEpoch?: bigint;
  /** Repair ask: largest encoded payload accepted, bytes. */
  maxSize?: bigint;
  /** Pledge deposited when the miner is first created, token base units. */
  pledge?: bigint;
  /** Top the pledge up at a deal's commit when it needs more (off by default). */
  autoPledge?: boolean;
  /** The most pledge a top-up may bring the miner to, token base units. */
  maxPledge?: bigint;
  confirmations?: number;
  watchIntervalMs?: number;
  workIntervalMs?: number;
  claimIntervalMs?: number;
  settleIntervalMs?: number;
  /** How often what the miner is owed is withdrawn, ms (0: never). */
  withdrawIntervalMs?: number;
  /** Where withdrawn tokens go (default: the miner's owner). */
  withdrawTo?: string;
  askCheckIntervalMs?: number;
  chainCheckIntervalMs?: number;
  logRangeBlocks?: number;
  logLookbackBlocks?: number;
  reputationUrl?: string;
  /** Epochs from proposal to the start of the miner's storage deals. */
  storageStartDelay?: bigint;
  /** Wait for a provider that signed but has not published before the miner publishes, ms. */
  selfPublishAfterMs?: number;
  /** Repair jobs started per repairer pass. */
  maxRepairsPerIteration?: number;
  logFile?: string;
}

/** Options of `repair status`. */
interface RepairStatusOptions {
  /** The repair daemon's URL. */
  url: string;
  /** One repair deal's id (default: all of them). */
  deal?: string;
  json?: boolean;
}

/** `repair-market repair …`: run a repair miner (start), or ask one about its deals (status). */
export function repairCommand(): Command {
  const repair = new Command("repair").description("run a repair miner, or ask one about its deals");
  addRepairStart(repair);
  addRepairStatus(repair);
  addWithdraw(repair, "repair miner's worker");
  addAddPledge(repair);
  return repair;
}

/** Adds `repair start`: the repair miner daemon. */
function addRepairStart(parent: Command): void {
  withOptions(parent.command("start"), chainOptions("the daemon"))
    .description(
      "start the repair miner daemon: takes repair deals, places pieces with providers, watches for faults, rebuilds and re-places lost pieces, claims earnings",
    )
    .option("--data-dir <dir>", "directory for the database and pieces in transit", defaultDataDir("repair"))
    .option("--host <host>", "interface to listen on", "127.0.0.1")
    .requiredOption("--port <port>", "TCP port (0 = any free port)", parseIntOption)
    .addOption(keyOption)
    .addOption(rpcOption)
    .addOption(deploymentOption)
    .option("--public-url <url>", "URL clients reach this daemon at (default: the listen address)")
    .option("--config <file>", "JSON file with any repair-miner setting (flags win)")
    .option(
      "--price-per-byte-per-epoch <units>",
      "repair ask: token base units per encoded payload byte per epoch",
      parseBigint,
    )
    .option(
      "--max-size <bytes>",
      "repair ask: largest encoded payload ((k + m) pieces, before padding) accepted, bytes",
      parseBigint,
    )
    .option("--pledge <units>", "pledge deposited when the miner is first created", parseBigint)
    .option(
      "--auto-pledge",
      "top the pledge up from the worker's wallet when a deal needs more (at its commit, by the shortfall; needs --max-pledge)",
    )
    .option("--max-pledge <units>", "the most pledge a top-up may bring the miner to, token base units", parseBigint)
    .option("--confirmations <n>", "blocks the chain watcher stays behind the head", parseIntOption)
    .option("--watch-interval-ms <ms>", "chain watcher and health sweep interval", parseIntOption)
    .option("--work-interval-ms <ms>", "placement and repair worker interval", parseIntOption)
    .option("--claim-interval-ms <ms>", "how often earnings are claimed", parseIntOption)
    .option(
      "--settle-interval-ms <ms>",
      "how often the worker's storage deals are settled once the market ends them",
      parseIntOption,
    )
    .option(
      "--withdraw-interval-ms <ms>",
      "how often free escrow beyond upcoming placements and the RepairMarket balance are withdrawn (0 = never)",
      parseIntOption,
    )
    .option("--withdraw-to <address>", "where withdrawn tokens go (default: the miner's owner)")
    .option(
      "--ask-check-interval-ms <ms>",
      "how often the repair ask is checked and renewed once half its validity has passed",
      parseIntOption,
    )
    .option("--reputation-url <url>", "a dealbot controller's /api/reputation: provider scores used to rank placement")
    .option(
      "--storage-start-delay <epochs>",
      "epochs from proposal to the start of the miner's storage deals",
      parseBigint,
    )
    .option(
      "--self-publish-after-ms <ms>",
      "publish a placement's storage deal with the provider's signed acceptance when it has not published it after this long",
      parseIntOption,
    )
    .option("--max-repairs-per-iteration <n>", "repair jobs started per repairer pass, riskiest first", parseIntOption)
    .option("--log-file <path>", "write logs here instead of stderr")
    .addOption(jsonOption)
    .action(startRepair);
}

/**
 * Starts the repair miner: prints its miner id, address and URL (a `started` JSON line with
 * --json) and stops on SIGINT/SIGTERM. Exits 1 if it cannot start.
 */
async function startRepair(opts: RepairStartOptions): Promise<void> {
  try {
    const config = repairConfig(opts);
    const account = loadAccount(opts.key);
    const daemon = new RepairDaemon(config, account);
    const { url, minerId } = await daemon.start();
    if (opts.json)
      printJson({ event: "started", role: "repair", address: account.address, url, minerId, pid: process.pid });
    else process.stdout.write(`repair miner ${minerId} (${account.address}) listening on ${url}\n`);
    stopOnSignals(daemon);
  } catch (err) {
    reportError(err, Boolean(opts.json));
    process.exit(1);
  }
}

/** The repair miner's settings: the --config file (if any) with every flag given laid over it, validated. */
function repairConfig(opts: RepairStartOptions) {
  const file = opts.config ? (JSON.parse(readFileSync(opts.config, "utf8")) as Record<string, unknown>) : {};
  const set = <T>(name: string, value: T | undefined) => (value === undefined ? {} : { [name]: value });
  return repairConfigSchema.parse({
    ...file,
    dataDir: opts.dataDir,
    host: opts.host,
    port: opts.port,
    rpcUrl: opts.rpc,
    deployment: opts.deployment,
    publicUrl: opts.publicUrl ?? file.publicUrl,
    ask: {
      ...((file.ask as object) ?? {}),
      ...set("pricePerBytePerEpoch", opts.pricePerBytePerEpoch),
      ...set("maxSize", opts.maxSize),
    },
    ...set("pledge", opts.pledge),
    ...set("autoPledge", opts.autoPledge),
    ...set("maxPledge", opts.maxPledge),
    ...set("confirmations", opts.confirmations),
    ...set("watchIntervalMs", opts.watchIntervalMs),
    ...set("workIntervalMs", opts.workIntervalMs),
    ...set("claimIntervalMs", opts.claimIntervalMs),
    ...set("askCheckIntervalMs", opts.askCheckIntervalMs),
    ...set("chainCheckIntervalMs", opts.chainCheckIntervalMs),
    ...set("logRangeBlocks", opts.logRangeBlocks),
    ...set("logLookbackBlocks", opts.logLookbackBlocks),
    ...set("settleIntervalMs", opts.settleIntervalMs),
    ...set("withdrawIntervalMs", opts.withdrawIntervalMs),
    ...set("withdrawTo", opts.withdrawTo),
    ...set("reputationUrl", opts.reputationUrl),
    ...set("storageStartDelayEpochs", opts.storageStartDelay),
    ...set("selfPublishAfterMs", opts.selfPublishAfterMs),
    ...set("maxRepairsPerIteration", opts.maxRepairsPerIteration),
    ...set("logFile", opts.logFile),
  });
}

/** Adds `repair status --url URL [--deal ID]`: a repair miner's deals over its HTTP API. */
function addRepairStatus(parent: Command): void {
  parent
    .command("status")
    .description("show a repair miner's deals (pieces, providers, repairs, evidence) and its escrow")
    .requiredOption("--url <url>", "the repair daemon's URL")
    .option("--deal <id>", "one repair deal")
    .addOption(jsonOption)
    .action(repairStatus);
}

/**
 * `repair status`: the miner's health when it is not well (a halted miner says why first: its
 * deals may no longer exist on the chain it reaches), one deal (--deal) or all, then the miner's
 * escrow (not read while halted); with --json the daemon's answers as `{ health, deals: [...],
 * escrow }` (`escrow` null while halted). Exit code 1 on failure.
 */
async function repairStatus(opts: RepairStatusOptions): Promise<void> {
  try {
    const url = String(opts.url);
    const health = await getHealth(url);
    if (!opts.json) printHealth(health);
    const deals = opts.deal ? [await getRepairDealStatus(url, String(opts.deal))] : await listRepairDeals(url);
    const escrow = health.halted ? null : await getRepairEscrow(url);
    if (opts.json) printJson({ health, deals, escrow });
    else {
      printRepairDeals(deals);
      if (escrow) printEscrow(escrow);
      else process.stdout.write("escrow not read: the miner is halted\n");
    }
  } catch (err) {
    reportError(err, Boolean(opts.json));
    process.exitCode = 1;
  }
}

/** The miner's health, when it is not ok: halted and why, or what else is wrong. */
function printHealth(health: HealthResponse): void {
  if (health.halted) {
    process.stdout.write(`HALTED since ${health.halted.since}: ${health.halted.reason}\n`);
    process.stdout.write("the deals below are this miner's records; the chain it reaches may not have them\n");
  } else if (!health.ok) {
    process.stdout.write(`not healthy: ${health.reason ?? "unknown"}\n`);
  }
}

/** Each repair deal's status, then one line per piece and per repair. */
function printRepairDeals(deals: RepairDealStatusResponse[]): void {
  for (const d of deals) {
    process.stdout.write(`repair deal ${d.dealId}: ${d.status}\n`);
    for (const p of d.pieces)
      process.stdout.write(
        `  piece ${p.index}\t${p.state}\t${p.provider ?? "-"}\tstorage deal ${p.storageDealId ?? "-"}\n`,
      );
    for (const r of d.repairs)
      process.stdout.write(
        `  repair ${r.id} of pieces ${r.indices.join(",")}: ${r.status}, ${r.bytesDownloaded} bytes downloaded${r.method ? ` (${r.method})` : ""}\n`,
      );
  }
}

/** The miner's escrow, token base units, one line per contract. */
function printEscrow(e: RepairEscrowResponse): void {
  const w = (line: string) => process.stdout.write(line + "\n");
  w(`escrow of worker ${e.worker} (token base units)`);
  w(`  StorageMarket\tfree ${e.storageMarket.free}\tlocked ${e.storageMarket.locked}`);
  w(`  RepairMarket\tbalance ${e.repairMarket.balance}\tpledge ${e.repairMarket.pledge}`);
  w(`  locked for ended storage deals ${e.lockedForEndedDeals} (${e.endedDeals.length} waiting to be settled)`);
  for (const d of e.endedDeals) w(`    storage deal ${d.storageDealId}\t${d.state}\tlocked ${d.locked}`);
  w(`  kept for upcoming placements ${e.placementReserve}`);
  w(`  withdrawals to ${e.withdrawTo ?? "- (off)"}`);
}
