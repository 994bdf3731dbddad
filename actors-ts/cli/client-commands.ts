import { join } from "node:path";
import { Command } from "commander";
import { SingleBar, Presets } from "cli-progress";
import { getAddress, type Address } from "viem";
import { loadAccount } from "../core/keys";
import { createLogger } from "../core/logger";
import { connectChain } from "../chain/clients";
import { contractsOf } from "../chain/contracts";
import { loadDeployment } from "../chain/deployment";
import { dealInfo } from "../chain/storage-market/reads";
import { ClientStore } from "../client/client-store";
import { StorageClient, type StoreProgress } from "../client/storage-client";
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
  type ChainOptions,
} from "./common";

async function openClient(opts: ChainOptions & { dataDir: string }) {
  const account = loadAccount(opts.key);
  const logger = createLogger("client", "warn", join(opts.dataDir, "client.log"));
  const clients = await connectChain(opts.rpc, account);
  const contracts = contractsOf(loadDeployment(opts.deployment, clients.chain.id));
  const store = new ClientStore(join(opts.dataDir, "client.sqlite"));
  return { clients, contracts, store, logger, client: new StorageClient({ clients, contracts, store, logger }) };
}

/** A progress bar on a terminal, nothing otherwise. */
function progressReporter(enabled: boolean): { onProgress: (e: StoreProgress) => void; stop: () => void } {
  if (!enabled || !process.stderr.isTTY) return { onProgress: () => undefined, stop: () => undefined };
  const bar = new SingleBar(
    { format: "upload {bar} {percentage}% | {value}/{total} bytes", stream: process.stderr },
    Presets.shades_classic,
  );
  let started = false;
  return {
    onProgress: (e) => {
      if (e.stage !== "upload") return;
      if (!started) {
        bar.start(e.total, 0);
        started = true;
      }
      bar.update(e.sent);
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}

/** `repair-market client …` */
export function clientCommand(): Command {
  const client = new Command("client").description("store and retrieve files");
  const withCommon = (cmd: Command): Command =>
    cmd
      .addOption(keyOption)
      .addOption(rpcOption)
      .addOption(deploymentOption)
      .option("--data-dir <dir>", "directory for the client's database", defaultDataDir("client"))
      .addOption(jsonOption);

  withCommon(
    client
      .command("store")
      .description("store FILE with one provider as a direct storage deal (no repair)")
      .argument("<file>", "file to store")
      .requiredOption("--provider <address>", "provider address (from ProviderRegistry)")
      .option("--duration <epochs>", "deal length in epochs", parseBigint)
      .option("--price <units>", "storagePricePerEpoch in token base units (default: the provider's ask)", parseBigint)
      .option("--start-delay <epochs>", "epochs from now to the deal's start", parseBigint)
      .option("--max-upload-rate <bytes-per-second>", "cap the upload speed", parseIntOption),
  ).action(async (file: string, opts) => {
    const events: StoreProgress[] = [];
    const progress = progressReporter(!opts.json);
    try {
      const { client: storageClient, store } = await openClient(opts);
      try {
        const deal = await storageClient.storeFile(file, {
          provider: getAddress(opts.provider) as Address,
          durationEpochs: opts.duration,
          pricePerEpoch: opts.price,
          startDelayEpochs: opts.startDelay,
          uploadBytesPerSecond: opts.maxUploadRate,
          onProgress: (e) => {
            if (e.stage !== "upload") events.push(e);
            progress.onProgress(e);
          },
        });
        progress.stop();
        if (opts.json) printJson({ ok: true, ...deal, events });
        else {
          process.stdout.write(`deal ${deal.dealId} published with ${deal.provider}\n`);
          process.stdout.write(`pieceCid ${deal.pieceCid}\ntx ${deal.txHash}\n`);
        }
      } finally {
        store.close();
      }
    } catch (err) {
      progress.stop();
      reportError(err, Boolean(opts.json));
      process.exitCode = 1;
    }
  });

  withCommon(client.command("deals").description("list this client's deals with their on-chain state")).action(
    async (opts) => {
      try {
        const { store, clients, contracts } = await openClient(opts);
        try {
          const rows = [];
          for (const d of store.deals()) {
            const state = d.dealId !== undefined ? (await dealInfo(clients, contracts, d.dealId)).stateName : d.status;
            rows.push({ dealId: d.dealId, provider: d.provider, pieceCid: d.pieceCid, state, file: d.filePath });
          }
          if (opts.json) printJson(rows);
          else if (rows.length === 0) process.stdout.write("no deals\n");
          else
            for (const r of rows)
              process.stdout.write(`${r.dealId ?? "-"}\t${r.state}\t${r.provider}\t${r.pieceCid}\t${r.file}\n`);
        } finally {
          store.close();
        }
      } catch (err) {
        reportError(err, Boolean(opts.json));
        process.exitCode = 1;
      }
    },
  );

  withCommon(
    client
      .command("retrieve")
      .description("fetch one of your own pieces back by its PieceCID, checking its commitment")
      .argument("<pieceCid>", "PieceCID v2 of the piece")
      .requiredOption("--out <file>", "where to write it")
      .option("--provider <address>", "provider to fetch from (default: any holding your deal)"),
  ).action(async (pieceCid: string, opts) => {
    try {
      const { client: storageClient, store } = await openClient(opts);
      try {
        const result = await storageClient.retrieveOwnPiece(
          pieceCid,
          opts.out,
          opts.provider ? (getAddress(opts.provider) as Address) : undefined,
        );
        if (opts.json) printJson({ ok: true, pieceCid, out: opts.out, ...result });
        else process.stdout.write(`wrote ${result.bytes} bytes from ${result.provider} to ${opts.out}\n`);
      } finally {
        store.close();
      }
    } catch (err) {
      reportError(err, Boolean(opts.json));
      process.exitCode = 1;
    }
  });
  return client;
}
