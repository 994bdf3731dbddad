import { join } from "node:path";
import { Command } from "commander";
import { SingleBar, Presets } from "cli-progress";
import { getAddress } from "viem";
import { loadAccount } from "../core/keys";
import { createLogger } from "../core/logger";
import { connectChain } from "../chain/clients";
import { contractsOf } from "../chain/contracts";
import { loadDeployment } from "../chain/deployment";
import { dealInfo } from "../chain/storage-market/reads";
import { ClientStore } from "../client/client-store";
import { RepairClient } from "../client/repair-client";
import { StorageClient, type StoreProgress } from "../client/storage-client";
import { RetrievalClient } from "../client/retrieval/retrieval-client";
import { describeCorrupt } from "../client/retrieval/file-retrieval";
import { ErasurePool } from "../erasure/erasure-pool";
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
  return {
    clients,
    contracts,
    store,
    logger,
    client: new StorageClient({ clients, contracts, store, logger }),
    workDir: join(opts.dataDir, "work"),
  };
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

/** A byte progress bar on a terminal, inert otherwise. */
function progressBar(enabled: boolean): { update: (done: number, total: number) => void; stop: () => void } {
  if (!enabled || !process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new SingleBar(
    { format: "retrieve {bar} {percentage}% | {value}/{total} bytes", stream: process.stderr },
    Presets.shades_classic,
  );
  let started = false;
  return {
    update: (done, total) => {
      if (!started) {
        bar.start(total, 0);
        started = true;
      }
      bar.update(done);
    },
    stop: () => {
      if (started) bar.stop();
      started = false;
    },
  };
}

function errorJson(err: unknown): unknown {
  const e = err as { toJSON?: () => unknown; name: string; message: string };
  return e.toJSON ? e.toJSON() : { name: e.name, message: e.message };
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
      .description(
        "store FILE: repair-backed with --repair (erasure-coded, placed and repaired by a repair miner), " +
          "as a direct storage deal with --provider, or erasure-coded as one deal per piece with --providers (no repair)",
      )
      .argument("<file>", "file to store")
      .option("--repair", "repair-backed: a repair miner places the pieces and repairs lost ones")
      .option("--miner <address>", "repair miner (worker or owner address) for --repair (default: the cheapest ask)")
      .option("--provider <address>", "provider address (from ProviderRegistry)")
      .option("--providers <addresses>", "comma-separated k + m providers for an erasure-coded file")
      .option("--k <n>", "data pieces (with --repair or --providers)", parseIntOption, 4)
      .option("--m <n>", "parity pieces (with --repair or --providers)", parseIntOption, 2)
      .option("--duration <epochs>", "deal length in epochs", parseBigint)
      .option("--price <units>", "storagePricePerEpoch in token base units (default: the provider's ask)", parseBigint)
      .option("--start-delay <epochs>", "epochs from now to the deal's start", parseBigint)
      .option("--max-upload-rate <bytes-per-second>", "cap the upload speed", parseIntOption)
      .option(
        "--self-publish-after <ms>",
        "when the provider holds the piece but has not published the deal after this long, publish it yourself " +
          "with the provider's signed acceptance (default 60000)",
        parseIntOption,
      ),
  ).action(async (file: string, opts) => {
    const events: StoreProgress[] = [];
    const progress = progressReporter(!opts.json);
    try {
      const { client: storageClient, store, workDir, clients, contracts, logger } = await openClient(opts);
      try {
        if (opts.repair) {
          const pool = new ErasurePool();
          try {
            const stored = await new RepairClient({ clients, contracts, store, logger }).store(file, {
              k: opts.k,
              m: opts.m,
              miner: opts.miner ? getAddress(opts.miner) : undefined,
              durationEpochs: opts.duration,
              workDir,
              pool,
              onProgress: (e) => {
                if (e.stage !== "upload") events.push(e as never);
                if (e.stage === "upload")
                  progress.onProgress({ stage: "upload", sent: e.sent ?? 0, total: e.total ?? 0, attempt: 1 });
                else if (!opts.json) process.stderr.write(`${e.stage}: ${e.detail ?? ""}\n`);
              },
            });
            progress.stop();
            if (opts.json) printJson({ ok: true, ...stored, events });
            else {
              process.stdout.write(`stored ${file} repair-backed (k=${opts.k}, m=${opts.m})\n`);
              process.stdout.write(
                `droot ${stored.droot}\nrepair deal ${stored.dealId} with miner ${stored.minerId} (${stored.miner})\n`,
              );
              process.stdout.write(`retrieve it with: repair-market client retrieve ${stored.droot} --out FILE\n`);
            }
          } finally {
            await pool.close();
          }
          return;
        }
        const storeOptions = {
          durationEpochs: opts.duration,
          pricePerEpoch: opts.price,
          startDelayEpochs: opts.startDelay,
          uploadBytesPerSecond: opts.maxUploadRate,
          selfPublishAfterMs: opts.selfPublishAfter,
          onProgress: (e: StoreProgress) => {
            if (e.stage !== "upload") events.push(e);
            progress.onProgress(e);
          },
        };
        if (opts.providers) {
          const pool = new ErasurePool();
          try {
            const stored = await storageClient.storeErasureCoded(
              file,
              {
                k: opts.k,
                m: opts.m,
                providers: String(opts.providers)
                  .split(",")
                  .map((a) => getAddress(a.trim())),
                workDir,
                pool,
              },
              storeOptions,
            );
            progress.stop();
            if (opts.json)
              printJson({ ok: true, droot: stored.droot, deals: stored.deals, manifest: stored.manifest, events });
            else {
              process.stdout.write(`stored ${file} as ${stored.deals.length} pieces (k=${opts.k}, m=${opts.m})\n`);
              process.stdout.write(`droot ${stored.droot}\n`);
              for (const d of stored.deals)
                process.stdout.write(`  deal ${d.dealId} with ${d.provider} ${d.pieceCid}\n`);
            }
          } finally {
            await pool.close();
          }
          return;
        }
        if (!opts.provider) throw new Error("give --provider, or --providers with --k and --m");
        const deal = await storageClient.storeFile(file, {
          ...storeOptions,
          provider: getAddress(opts.provider),
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

  withCommon(
    client
      .command("extend")
      .description(
        "renew a direct deal: its end moves --duration epochs later, the extra price is locked, the piece stays where it is",
      )
      .argument("<dealId>", "a published direct deal of this client", parseBigint)
      .requiredOption("--duration <epochs>", "epochs to add to the deal's end", parseBigint),
  ).action(async (dealId: bigint, opts) => {
    try {
      const { client: storageClient, store } = await openClient(opts);
      try {
        const renewed = await storageClient.extendDeal(dealId, opts.duration);
        if (opts.json) printJson({ ok: true, ...renewed });
        else
          process.stdout.write(`deal ${renewed.dealId} now ends at epoch ${renewed.endEpoch}\ntx ${renewed.txHash}\n`);
      } finally {
        store.close();
      }
    } catch (err) {
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
      .description(
        "retrieve a whole file by its droot (0x…, any k pieces, paid), or one piece by its PieceCID " +
          "(your own pieces free, --paid or others' through a payment channel)",
      )
      .argument("<target>", "droot (0x-prefixed 32 bytes) or PieceCID v2")
      .requiredOption("--out <file>", "where to write it (atomically)")
      .option("--provider <address>", "provider for a single piece")
      .option("--paid", "pay for a piece even if you hold a deal on it")
      .option("--stall-timeout-ms <ms>", "replace a provider that sends nothing for this long", parseIntOption)
      .option("--max-download-rate <bytes-per-second>", "cap each piece download's speed", parseIntOption),
  ).action(async (target: string, opts) => {
    const events: string[] = [];
    try {
      const { client: storageClient, store, clients, contracts, logger, workDir } = await openClient(opts);
      const isDroot = /^0x[0-9a-fA-F]{64}$/.test(target);
      const pool = isDroot ? new ErasurePool() : undefined;
      const retrieval = new RetrievalClient({ clients, contracts, store, logger, pool, workDir });
      const bar = progressBar(!opts.json);
      try {
        if (isDroot) {
          const result = await retrieval.retrieveFile(target as `0x${string}`, opts.out, {
            stallTimeoutMs: opts.stallTimeoutMs,
            maxBytesPerSecond: opts.maxDownloadRate,
            onEvent: (line) => events.push(line),
            onProgress: bar.update,
          });
          bar.stop();
          if (opts.json) printJson({ ok: true, ...result });
          else {
            process.stdout.write(`wrote ${result.fileSize} bytes to ${result.outPath} (paid ${result.paid})\n`);
            for (const c of result.corruptProviders) {
              process.stdout.write(
                `corrupt: provider ${c.provider} served bad bytes for piece ${c.pieceIndex} (${describeCorrupt(c)})\n`,
              );
            }
            for (const f of result.failedProviders)
              process.stdout.write(`failed: provider ${f.provider} piece ${f.pieceIndex}: ${f.error}\n`);
          }
          return;
        }
        const own = store.dealsForPiece(target).length > 0 && !opts.paid;
        if (own) {
          const result = await storageClient.retrieveOwnPiece(
            target,
            opts.out,
            opts.provider ? getAddress(opts.provider) : undefined,
          );
          if (opts.json) printJson({ ok: true, pieceCid: target, out: opts.out, paid: 0n, ...result });
          else process.stdout.write(`wrote ${result.bytes} bytes from ${result.provider} to ${opts.out}\n`);
          return;
        }
        if (!opts.provider) throw new Error("a paid piece retrieval needs --provider");
        const result = await retrieval.retrievePiece(target, getAddress(opts.provider), opts.out, {
          onEvent: (line) => events.push(line),
          maxBytesPerSecond: opts.maxDownloadRate,
        });
        if (opts.json) printJson({ ok: true, ...result, out: opts.out });
        else
          process.stdout.write(
            `wrote ${result.bytes} bytes from ${result.provider} to ${opts.out} (paid ${result.paid})\n`,
          );
      } finally {
        bar.stop();
        await pool?.close();
        store.close();
      }
    } catch (err) {
      if (opts.json) printJson({ ok: false, error: errorJson(err), events });
      else reportError(err, false);
      process.exitCode = 1;
    }
  });
  return client;
}
