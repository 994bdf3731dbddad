import { readFileSync } from "node:fs";
import { Command } from "commander";
import { loadAccount } from "../core/keys";
import { httpJson } from "../core/http-client";
import { repairConfigSchema } from "../repair/config";
import { RepairDaemon } from "../repair/repair-daemon";
import { z } from "zod";
import { REPAIR_PATHS, repairDealStatusResponseSchema } from "../protocol/repair-api";
import {
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
} from "./common";

/** `repair-market repair …` */
export function repairCommand(): Command {
  const repair = new Command("repair").description("run a repair miner, or ask one about its deals");
  repair
    .command("start")
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
    .option("--confirmations <n>", "blocks the chain watcher stays behind the head", parseIntOption)
    .option("--watch-interval-ms <ms>", "chain watcher and health sweep interval", parseIntOption)
    .option("--work-interval-ms <ms>", "placement and repair worker interval", parseIntOption)
    .option("--claim-interval-ms <ms>", "how often earnings are claimed", parseIntOption)
    .option(
      "--settle-interval-ms <ms>",
      "how often storage deals replaced by repairs are settled once the market ends them",
      parseIntOption,
    )
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
    .option("--log-file <path>", "write logs here instead of stderr")
    .addOption(jsonOption)
    .action(async (opts) => {
      try {
        const file = opts.config ? (JSON.parse(readFileSync(opts.config, "utf8")) as Record<string, unknown>) : {};
        const set = <T>(name: string, value: T | undefined) => (value === undefined ? {} : { [name]: value });
        const config = repairConfigSchema.parse({
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
          ...set("confirmations", opts.confirmations),
          ...set("watchIntervalMs", opts.watchIntervalMs),
          ...set("workIntervalMs", opts.workIntervalMs),
          ...set("claimIntervalMs", opts.claimIntervalMs),
          ...set("askCheckIntervalMs", opts.askCheckIntervalMs),
          ...set("settleIntervalMs", opts.settleIntervalMs),
          ...set("reputationUrl", opts.reputationUrl),
          ...set("storageStartDelayEpochs", opts.storageStartDelay),
          ...set("logFile", opts.logFile),
        });
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
    });

  repair
    .command("status")
    .description("show a repair miner's deals: pieces, providers, repairs, evidence")
    .requiredOption("--url <url>", "the repair daemon's URL")
    .option("--deal <id>", "one repair deal")
    .addOption(jsonOption)
    .action(async (opts) => {
      try {
        const path = opts.deal ? REPAIR_PATHS.deal(String(opts.deal)) : REPAIR_PATHS.deals;
        const body = opts.deal
          ? await httpJson(
              { method: "GET", url: String(opts.url) + path },
              { peer: opts.url, stage: "repair status" },
              repairDealStatusResponseSchema,
            )
          : await httpJson(
              { method: "GET", url: String(opts.url) + path },
              { peer: opts.url, stage: "repair status" },
              z.array(repairDealStatusResponseSchema),
            );
        if (opts.json) printJson(body);
        else {
          const deals = Array.isArray(body) ? body : [body];
          for (const d of deals) {
            process.stdout.write(`repair deal ${d.dealId}: ${d.status}\n`);
            for (const p of d.pieces)
              process.stdout.write(
                `  piece ${p.index}\t${p.state}\t${p.provider ?? "-"}\tstorage deal ${p.storageDealId ?? "-"}\n`,
              );
            for (const r of d.repairs)
              process.stdout.write(
                `  repair ${r.id} of pieces ${r.indices.join(",")}: ${r.status}, ${r.bytesDownloaded} bytes downloaded\n`,
              );
          }
        }
      } catch (err) {
        reportError(err, Boolean(opts.json));
        process.exitCode = 1;
      }
    });
  return repair;
}
