import { readFileSync } from "node:fs";
import { Command, Option } from "commander";
import { loadAccount } from "../core/keys";
import { providerConfigSchema } from "../provider/config";
import { ProviderDaemon } from "../provider/provider-daemon";
import {
  defaultDataDir,
  deploymentOption,
  chainOptions,
  jsonOption,
  withOptions,
  keyOption,
  parseBigint,
  parseIntOption,
  printJson,
  reportError,
  rpcOption,
  stopOnSignals,
  type ChainOptions,
} from "./common";

/** Options of `provider start`; unset ones fall back to --config, then to the config's defaults. */
interface ProviderStartOptions extends ChainOptions {
  dataDir: string;
  host: string;
  /** TCP port (0: any free port). */
  port: number;
  publicUrl?: string;
  /** JSON file with any provider setting (flags win). */
  config?: string;
  /** Storage ask, token base units per payload byte per epoch. */
  pricePerBytePerEpoch?: bigint;
  /** Collateral per payload byte, token base units. */
  collateralPerByte?: bigint;
  /** Retrieval ask, token base units per byte. */
  retrievalPricePerByte?: bigint;
  /** Padded bytes the provider will hold. */
  capacity?: number;
  /** false with --no-register. */
  register: boolean;
  publishIntervalMs?: number;
  proveIntervalMs?: number;
  settleIntervalMs?: number;
  scrubIntervalMs?: number;
  deepScrubEvery?: number;
  /** Bytes a retrieval client may receive beyond what it paid. */
  maxUnpaidBytes?: number;
  redeemIntervalMs?: number;
  chainCheckIntervalMs?: number;
  logRangeBlocks?: number;
  logLookbackBlocks?: number;
  logFile?: string;
  quiet?: boolean;
  fault?: string[];
  dieAfterServedBytes?: number;
  dieAfterReceivedBytes?: number;
}

/** `repair-market provider …`: run a storage provider (start). */
export function providerCommand(): Command {
  const provider = new Command("provider").description("run a storage provider");
  addProviderStart(provider);
  return provider;
}

/** Adds `provider start`: the daemon with its HTTP API for deals and pieces, prover, settler and scrubber. */
function addProviderStart(parent: Command): void {
  withOptions(parent.command("start"), chainOptions("the daemon"))
    .description("start the provider daemon: HTTP API for deals and pieces, prover, settler, scrubber")
    .option("--data-dir <dir>", "directory for the database and pieces", defaultDataDir("provider"))
    .option("--host <host>", "interface to listen on", "127.0.0.1")
    .requiredOption("--port <port>", "TCP port (0 = any free port)", parseIntOption)
    .addOption(keyOption)
    .addOption(rpcOption)
    .addOption(deploymentOption)
    .option("--public-url <url>", "URL other agents reach this daemon at (default: the listen address)")
    .option("--config <file>", "JSON file with any provider setting (flags win)")
    .option(
      "--price-per-byte-per-epoch <units>",
      "storage ask: token base units per payload byte per epoch (padding is free)",
      parseBigint,
    )
    .option("--collateral-per-byte <units>", "collateral offered per payload byte", parseBigint)
    .option("--retrieval-price-per-byte <units>", "retrieval ask: token base units per byte", parseBigint)
    .option("--capacity <bytes>", "padded bytes the provider will hold", parseIntOption)
    .option("--no-register", "do not register the endpoint and asks in ProviderRegistry")
    .option("--publish-interval-ms <ms>", "publish batch interval", parseIntOption)
    .option("--prove-interval-ms <ms>", "prover polling interval", parseIntOption)
    .option("--settle-interval-ms <ms>", "settlement interval", parseIntOption)
    .option("--scrub-interval-ms <ms>", "piece scrub interval", parseIntOption)
    .option("--deep-scrub-every <n>", "recompute CommP every n scrubs", parseIntOption)
    .option(
      "--max-unpaid-bytes <bytes>",
      "bytes a retrieval client may receive beyond what it paid, all its lanes and channels together",
      parseIntOption,
    )
    .option("--redeem-interval-ms <ms>", "how often retrieval vouchers are redeemed on chain", parseIntOption)
    .option("--log-file <path>", "write logs here instead of stderr")
    .addOption(jsonOption)
    .addOption(new Option("--quiet", "print nothing on start").hideHelp())
    .addOption(
      new Option(
        "--fault <name...>",
        "misbehave on purpose, for testing others: corrupt-reads, refuse-deals, never-publish (take the bytes, sign the deal, leave publishing to the client), decline-extensions (refuse every deal extension), stop-proving (never prove, keep serving retrieval)",
      ).choices(["corrupt-reads", "refuse-deals", "never-publish", "decline-extensions", "stop-proving"]),
    )
    .option(
      "--die-after-served-bytes <n>",
      "fault injection: SIGKILL itself after serving this many bytes",
      parseIntOption,
    )
    .option(
      "--die-after-received-bytes <n>",
      "fault injection: SIGKILL itself after receiving this many upload bytes",
      parseIntOption,
    )
    .action(startProvider);
}

/**
 * Starts the provider daemon: prints its address and URL (a `started` JSON line with --json,
 * nothing with --quiet) and stops on SIGINT/SIGTERM. Exits 1 if it cannot start.
 */
async function startProvider(opts: ProviderStartOptions): Promise<void> {
  try {
    const config = providerConfig(opts);
    const account = loadAccount(opts.key);
    const daemon = new ProviderDaemon(config, account);
    const { url } = await daemon.start();
    if (opts.json) printJson({ event: "started", role: "provider", address: account.address, url, pid: process.pid });
    else if (!opts.quiet) process.stdout.write(`provider ${account.address} listening on ${url}\n`);
    stopOnSignals(daemon);
  } catch (err) {
    reportError(err, Boolean(opts.json));
    process.exit(1);
  }
}

/** The provider's settings: the --config file (if any) with every flag given laid over it, validated. */
function providerConfig(opts: ProviderStartOptions) {
  const file = opts.config ? (JSON.parse(readFileSync(opts.config, "utf8")) as Record<string, unknown>) : {};
  return providerConfigSchema.parse({
    ...file,
    dataDir: opts.dataDir,
    host: opts.host,
    port: opts.port,
    rpcUrl: opts.rpc,
    deployment: opts.deployment,
    publicUrl: opts.publicUrl ?? file.publicUrl,
    register: opts.register,
    storageAsk: {
      ...((file.storageAsk as object) ?? {}),
      ...(opts.pricePerBytePerEpoch !== undefined ? { pricePerBytePerEpoch: opts.pricePerBytePerEpoch } : {}),
      ...(opts.collateralPerByte !== undefined ? { collateralPerByte: opts.collateralPerByte } : {}),
    },
    retrievalAsk: {
      ...((file.retrievalAsk as object) ?? {}),
      ...(opts.retrievalPricePerByte !== undefined ? { pricePerByte: opts.retrievalPricePerByte } : {}),
    },
    ...(opts.capacity !== undefined ? { capacityBytes: opts.capacity } : {}),
    ...(opts.publishIntervalMs !== undefined ? { publishIntervalMs: opts.publishIntervalMs } : {}),
    ...(opts.proveIntervalMs !== undefined ? { proveIntervalMs: opts.proveIntervalMs } : {}),
    ...(opts.settleIntervalMs !== undefined ? { settleIntervalMs: opts.settleIntervalMs } : {}),
    ...(opts.scrubIntervalMs !== undefined ? { scrubIntervalMs: opts.scrubIntervalMs } : {}),
    ...(opts.deepScrubEvery !== undefined ? { deepScrubEvery: opts.deepScrubEvery } : {}),
    ...(opts.logFile !== undefined ? { logFile: opts.logFile } : {}),
    ...(opts.maxUnpaidBytes !== undefined ? { maxUnpaidBytes: opts.maxUnpaidBytes } : {}),
    ...(opts.redeemIntervalMs !== undefined ? { redeemIntervalMs: opts.redeemIntervalMs } : {}),
    ...(opts.chainCheckIntervalMs !== undefined ? { chainCheckIntervalMs: opts.chainCheckIntervalMs } : {}),
    ...(opts.logRangeBlocks !== undefined ? { logRangeBlocks: opts.logRangeBlocks } : {}),
    ...(opts.logLookbackBlocks !== undefined ? { logLookbackBlocks: opts.logLookbackBlocks } : {}),
    faults: {
      ...((file.faults as object) ?? {}),
      ...(opts.fault?.includes("corrupt-reads") ? { corruptReads: true } : {}),
      ...(opts.fault?.includes("refuse-deals") ? { refuseDeals: true } : {}),
      ...(opts.fault?.includes("never-publish") ? { neverPublish: true } : {}),
      ...(opts.fault?.includes("decline-extensions") ? { declineExtensions: true } : {}),
      ...(opts.fault?.includes("stop-proving") ? { stopProving: true } : {}),
      ...(opts.dieAfterServedBytes !== undefined ? { dieAfterServedBytes: opts.dieAfterServedBytes } : {}),
      ...(opts.dieAfterReceivedBytes !== undefined ? { dieAfterReceivedBytes: opts.dieAfterReceivedBytes } : {}),
    },
  });
}
