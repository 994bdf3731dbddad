import { Command } from "commander";
import { stat } from "node:fs/promises";
import { getAddress, type Hex } from "viem";
import { dealInfo } from "../chain/storage-market/reads";
import { assertContractsDeployed } from "../chain/deployment-code";
import { RepairClient, type RepairProgress } from "../client/repair-client";
import { extendRepairBackedFile } from "../client/repair-extend";
import { type StoreProgress } from "../client/storage-client";
import { ErasurePool } from "../erasure/erasure-pool";
import { codingName, parseCoding } from "../erasure/coding";
import { defaultCoding } from "../erasure/layout";
import { parseBigint, parseIntOption, printJson, reportError } from "./common";
import { openClient, withClientOptions, type ClientOptions, type OpenedClient } from "./client-common";
import { addRetrieve } from "./client-retrieve-commands";
import { addStatus } from "./client-status-command";
import { InvalidArgumentError } from "../core/errors";
import { addCancelBid, addWithdraw } from "./money-commands";
import { barsEnabled, byteBar } from "./progress-bars";

/** Options of `client store`. */
interface StoreCliOptions extends ClientOptions {
  /** Repair-backed: a repair miner places the pieces and repairs lost ones. */
  repair?: boolean;
  /** Repair miner (worker or owner address) for --repair. */
  miner?: string;
  /** Provider of a direct deal. */
  provider?: string;
  /** Comma-separated k + m providers of an erasure-coded file without repair. */
  providers?: string;
  /** Data pieces (default 4). */
  k: number;
  /** Parity pieces (default 2). */
  m: number;
  /** Erasure code of a repair-backed file: "rs" or "clay" (default: `defaultCoding`; clay when --d is given). */
  code?: string;
  /** Clay's helpers per single-piece repair (default k + m − 1). */
  d?: number;
  /** Deal length, epochs. */
  duration?: bigint;
  /** storagePricePerEpoch, token base units. */
  price?: bigint;
  /** Epochs from now to the deal's start. */
  startDelay?: bigint;
  /** Cap on the upload speed, bytes per second. */
  maxUploadRate?: number;
  /** Publish the deal with the provider's signed acceptance after this long, ms. */
  selfPublishAfter?: number;
}

/** A store's progress bar on stderr: encode, upload (bytes of every piece), commit. */
interface ProgressReporter {
  onProgress: (e: StoreProgress | RepairProgress) => void;
  stop: () => void;
}

/** What one `client store` works with once the client is open. */
interface StoreContext {
  opened: OpenedClient;
  progress: ProgressReporter;
  /** Every progress event but uploads, printed with the result under --json. */
  events: StoreProgress[];
  opts: StoreCliOptions;
}

/**
 * Feeds a store's progress events to a {@link byteBar}: "encode" with the file bytes encoded,
 * "upload" with the bytes sent summed over the pieces (uploads run side by side), "commit" once
 * every piece is uploaded and the deal(s) are being made.
 */
function progressReporter(enabled: boolean): ProgressReporter {
  const bar = byteBar(enabled);
  const pieces = new Map<number, { sent: number; total: number }>();
  let uploaded = 0;
  return {
    onProgress: (e) => {
      if (e.stage === "encoding") {
        const done = "done" in e ? e.done : (e.sent ?? 0);
        bar.update("encode", done, e.total ?? 0);
      } else if (e.stage === "upload") {
        pieces.set("piece" in e ? (e.piece ?? 0) : 0, { sent: e.sent ?? 0, total: e.total ?? 0 });
        const all = [...pieces.values()];
        bar.update(
          "upload",
          all.reduce((s, p) => s + p.sent, 0),
          all.reduce((s, p) => s + p.total, 0),
        );
      } else if (e.stage === "uploaded" && ++uploaded >= Math.max(1, pieces.size)) {
        bar.mark("commit");
      } else if (e.stage === "commit") {
        bar.mark("commit");
      }
    },
    stop: () => bar.stop(),
  };
}

/**
 * `repair-market client …`: store (store), renew (extend), list (deals) and retrieve (retrieve)
 * files; take back what the contracts credit (withdraw) and cancel an unused repair bid (cancel-bid).
 */
export function clientCommand(): Command {
  const client = new Command("client").description("store and retrieve files");
  addStore(client);
  addExtend(client);
  addDeals(client);
  addRetrieve(client);
  addStatus(client);
  addWithdraw(client, "client");
  addCancelBid(client);
  return client;
}

/** Adds `client store <file>`: repair-backed (--repair), a direct deal (--provider) or erasure-coded (--providers). */
function addStore(parent: Command): void {
  withClientOptions(
    parent
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
      .option(
        "--code <scheme>",
        "erasure code with --repair: rs (Reed–Solomon) or clay (default: clay when k, m ≥ 2 and its pieces are " +
          "at most 1/64 larger than rs's, so from about 200 KB at 4 + 2; rs otherwise)",
      )
      .option(
        "--d <n>",
        "Clay: helpers a single-piece repair reads from, k ≤ d ≤ k + m − 1 (default k + m − 1)",
        parseIntOption,
      )
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
  ).action(storeAction);
}

/**
 * `client store`: prints the deal(s), or the result with its progress events under --json. On
 * failure it reports the error (`{ ok: false, error }` with --json) and sets exit code 1.
 */
async function storeAction(file: string, opts: StoreCliOptions): Promise<void> {
  const events: StoreProgress[] = [];
  const progress = progressReporter(barsEnabled(opts.json));
  try {
    const opened = await openClient(opts);
    const ctx: StoreContext = { opened, progress, events, opts };
    try {
      await assertContractsDeployed(opened.clients.public, opened.contracts);
      if (opts.repair) await storeRepairBacked(file, ctx);
      else if (opts.providers) await storeErasureCoded(file, String(opts.providers), ctx);
      else await storeDirect(file, ctx);
    } finally {
      opened.store.close();
    }
  } catch (err) {
    progress.stop();
    reportError(err, Boolean(opts.json));
    process.exitCode = 1;
  }
}

/** --repair: encode into k + m pieces and hand them to a repair miner, which places and repairs them. */
async function storeRepairBacked(file: string, ctx: StoreContext): Promise<void> {
  const { opts, progress, events } = ctx;
  const { clients, contracts, store, logger, workDir } = ctx.opened;
  const coding =
    opts.code !== undefined || opts.d !== undefined
      ? parseCoding(opts.code ?? "clay", opts.k, opts.m, opts.d)
      : defaultCoding((await stat(file)).size, opts.k, opts.m);
  const pool = new ErasurePool();
  try {
    const stored = await new RepairClient({ clients, contracts, store, logger }).store(file, {
      k: opts.k,
      m: opts.m,
      coding,
      miner: opts.miner ? getAddress(opts.miner) : undefined,
      durationEpochs: opts.duration,
      workDir,
      pool,
      onProgress: (e) => {
        progress.onProgress(e);
        if (e.stage === "upload" || e.stage === "encoding") return;
        events.push(e as never);
        if (!opts.json) process.stderr.write(`${e.stage}: ${e.detail ?? ""}\n`);
      },
    });
    progress.stop();
    if (opts.json) printJson({ ok: true, ...stored, coding: coding ?? { scheme: "rs" }, events });
    else {
      process.stdout.write(`stored ${file} repair-backed (k=${opts.k}, m=${opts.m}, ${codingName(coding)})\n`);
      process.stdout.write(
        `droot ${stored.droot}\nrepair deal ${stored.dealId} with miner ${stored.minerId} (${stored.miner})\n`,
      );
      process.stdout.write(`retrieve it with: repair-market client retrieve ${stored.droot} --out FILE\n`);
    }
  } finally {
    await pool.close();
  }
}

/** The deal terms a direct or erasure-coded store takes from the flags, and its progress hook. */
function dealOptions(ctx: StoreContext) {
  const { opts, progress, events } = ctx;
  return {
    durationEpochs: opts.duration,
    pricePerEpoch: opts.price,
    startDelayEpochs: opts.startDelay,
    uploadBytesPerSecond: opts.maxUploadRate,
    selfPublishAfterMs: opts.selfPublishAfter,
    onProgress: (e: StoreProgress) => {
      if (e.stage !== "upload" && e.stage !== "encoding") events.push(e);
      progress.onProgress(e);
    },
  };
}

/** --providers: encode into k + m pieces, one storage deal per piece with the given providers (no repair). */
async function storeErasureCoded(file: string, providers: string, ctx: StoreContext): Promise<void> {
  const { opts, progress, events } = ctx;
  const storeOptions = dealOptions(ctx);
  const pool = new ErasurePool();
  try {
    const stored = await ctx.opened.client.storeErasureCoded(
      file,
      {
        k: opts.k,
        m: opts.m,
        providers: providers.split(",").map((a) => getAddress(a.trim())),
        workDir: ctx.opened.workDir,
        pool,
      },
      storeOptions,
    );
    progress.stop();
    if (opts.json) printJson({ ok: true, droot: stored.droot, deals: stored.deals, manifest: stored.manifest, events });
    else {
      process.stdout.write(`stored ${file} as ${stored.deals.length} pieces (k=${opts.k}, m=${opts.m})\n`);
      process.stdout.write(`droot ${stored.droot}\n`);
      for (const d of stored.deals) process.stdout.write(`  deal ${d.dealId} with ${d.provider} ${d.pieceCid}\n`);
    }
  } finally {
    await pool.close();
  }
}

/** --provider: the whole file as one direct storage deal. */
async function storeDirect(file: string, ctx: StoreContext): Promise<void> {
  const { opts, progress, events } = ctx;
  const storeOptions = dealOptions(ctx);
  if (!opts.provider) throw new InvalidArgumentError("give --provider, or --providers with --k and --m");
  const deal = await ctx.opened.client.storeFile(file, {
    ...storeOptions,
    provider: getAddress(opts.provider),
  });
  progress.stop();
  if (opts.json) printJson({ ok: true, ...deal, events });
  else {
    process.stdout.write(`deal ${deal.dealId} published with ${deal.provider}\n`);
    process.stdout.write(`pieceCid ${deal.pieceCid}\ntx ${deal.txHash}\n`);
  }
}

/**
 * Adds `client extend <dealId|droot> --duration EPOCHS`: renews a direct deal in place, or keeps a
 * repair-backed file longer (the repair deal's end moves; its miner extends the pieces' storage
 * deals). The extra price is paid or locked now.
 */
function addExtend(parent: Command): void {
  withClientOptions(
    parent
      .command("extend")
      .description(
        "keep a file longer: a direct deal id renews that deal in place; a droot extends the repair deal that stores it (its miner extends every piece's storage deal). The extra price is locked now",
      )
      .argument(
        "<dealId|droot>",
        "a published direct deal of this client, or the droot (0x + 64 hex) of a repair-backed file",
      )
      .requiredOption("--duration <epochs>", "epochs to add to the deal's end", parseBigint),
  ).action(async (target: string, opts: ClientOptions & { duration: bigint }) => {
    try {
      const { client: storageClient, store, clients, contracts } = await openClient(opts);
      try {
        await assertContractsDeployed(clients.public, contracts);
        if (/^0x[0-9a-fA-F]{64}$/.test(target)) {
          const extended = await extendRepairBackedFile({ clients, contracts }, target as Hex, opts.duration);
          if (opts.json) printJson({ ok: true, ...extended });
          else
            process.stdout.write(
              `repair deal ${extended.dealId} now ends at epoch ${extended.newEndEpoch} (was ${extended.oldEndEpoch}); ${extended.amount} locked\ntx ${extended.txHash}\n`,
            );
          return;
        }
        const renewed = await storageClient.extendDeal(parseBigint(target), opts.duration);
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
}

/** Adds `client deals`: this client's deals, with the on-chain state of published ones (tab-separated, or --json). */
function addDeals(parent: Command): void {
  withClientOptions(parent.command("deals").description("list this client's deals with their on-chain state")).action(
    async (opts: ClientOptions) => {
      try {
        const { store, clients, contracts } = await openClient(opts);
        try {
          await assertContractsDeployed(clients.public, contracts);
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
}
