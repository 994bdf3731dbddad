/**
 * `npm run demo -- [--file PATH] [--k 4 --m 2] [--code rs|clay [--d N]] [--providers N] [--kill N] [--rpc URL [--keys FILE]]
 * [--wan]`: the main job end to end on an embedded devnet (DESIGN.md "The main job"), or with
 * `--rpc` on an existing chain (deploying there when `deployments/<chainId>.json` has none;
 * Hardhat's dev accounts unless `--keys`), and with `--wan` over a WAN proxy in front of every
 * agent and the chain (40 ms each way, 100 Mbit/s links, an occasional reset). Starts a Hardhat
 * node mining on an interval, deploys, funds accounts, starts the provider daemons and a repair miner as separate
 * processes (the miner's pledge, the placement and repair windows and every wait sized for the
 * file, so a gigabyte needs no other flag), stores the file repair-backed, kills the holders of pieces 0 … N−1 at once with
 * SIGKILL (default 1, at most m), waits until every one of them is repaired (reassignPiece) and
 * confirmed (the new storage deal proven), retrieves the file through paid retrieval and compares
 * SHA-256, waits (bounded) until the miner has settled the dead providers' storage deals, then
 * prints a timeline and stops everything it started. Exit code 0 only when the bytes match, no
 * piece was lost that the demo did not kill (`unexpectedLosses`) and nothing stays locked for the
 * miner's ended storage deals (`minerLockedForEndedDeals` 0). Data dirs are left in .demo/<run>/
 * for inspection. The summary's `peakRssMiB` is each process's peak resident memory.
 */
import { mkdir, stat } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { Command } from "commander";
import { createPublicClient, getAddress, type Address } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { startDaemon, type DaemonProcess } from "./lib/agents";
import { printSummary, settledEscrow, sha256File, waitUntil } from "./lib/demo-steps";
import { DemoNetwork, devKeys, prepareChain, readKeysFile, type DemoChain } from "./lib/demo-network";
import {
  demoPledge,
  minerPledgeArgs,
  sizeDemo,
  stageTimeoutMs,
  windowEpochs,
  writeRandomFile,
} from "./lib/demo-sizing";
import { PeakRss } from "./lib/peak-rss";
import { connectChain } from "../actors-ts/chain/clients";
import { rpcTransport } from "../actors-ts/chain/rpc-transport";
import { scanNewestFirst } from "../actors-ts/chain/log-scan";
import { contractsOf } from "../actors-ts/chain/contracts";
import { repairMarketAbi } from "../actors-ts/chain/generated/abis";
import { createLogger } from "../actors-ts/core/logger";
import { ClientStore } from "../actors-ts/client/client-store";
import { RepairClient } from "../actors-ts/client/repair-client";
import { RetrievalClient } from "../actors-ts/client/retrieval/retrieval-client";
import { ErasurePool } from "../actors-ts/erasure/erasure-pool";
import { codingName, parseCoding, type FileCoding } from "../actors-ts/erasure/coding";
import { defaultCoding } from "../actors-ts/erasure/layout";
import type { RepairDealStatusResponse } from "../actors-ts/protocol/repair-api";

/** Providers at most with Hardhat's dev accounts (2 … 17; 18 reads, 19 mines). */
const MAX_DEV_PROVIDERS = 16;

const program = new Command("demo")
  .description("store a file repair-backed on a local devnet, kill a provider, watch the repair, retrieve the file")
  .option("--file <path>", "file to store (default: a generated file of a few MiB)")
  .option("--size-mib <n>", "size of the generated file", (v) => Number(v), 4)
  .option("--k <n>", "data pieces", (v) => Number(v), 4)
  .option("--m <n>", "parity pieces", (v) => Number(v), 2)
  .option(
    "--code <scheme>",
    "erasure code: rs (Reed–Solomon) or clay (default: clay when k, m ≥ 2 and its pieces are at most " +
      "1/64 larger than rs's; rs otherwise)",
  )
  .option("--d <n>", "Clay: helpers per single-piece repair, k ≤ d ≤ k + m − 1 (default k + m − 1)", (v) => Number(v))
  .option(
    "--providers <n>",
    "provider daemons (default k + m + 1: a repaired piece needs a provider holding no other piece)",
  )
  .option("--kill <n>", "holders killed at once (1 … m)", (v) => Number(v), 1)
  .option("--period <epochs>", "proving period", (v) => Number(v), 20)
  .option("--block-ms <ms>", "devnet block interval", (v) => Number(v), 500)
  .option("--rpc <url>", "run on this chain instead of an embedded devnet (deploys there when --deployment has none)")
  .option("--deployment <dir>", "where deployments/<chainId>.json is read or written (with --rpc)", "deployments")
  .option(
    "--keys <file>",
    'JSON {"deployer","client","reader","miner":"0x…","providers":["0x…",…]} (with --rpc; default: Hardhat\'s dev accounts)',
  )
  .option(
    "--wan",
    "put a WAN proxy (40 ms each way, 100 Mbit/s, occasional resets) in front of every agent and the chain",
  )
  .option("--json", "print the timeline and summary as JSON")
  .parse(process.argv);

const opts = program.opts<{
  file?: string;
  sizeMib: number;
  k: number;
  m: number;
  code?: string;
  d?: number;
  providers?: string;
  kill: number;
  period: number;
  blockMs: number;
  rpc?: string;
  deployment: string;
  keys?: string;
  wan?: boolean;
  json?: boolean;
}>();

interface Step {
  wallSeconds: number;
  epoch: string;
  event: string;
}

async function main(): Promise<number> {
  const started = Date.now();
  const runDir = resolve(".demo", new Date().toISOString().replace(/[:.]/g, "-"));
  const n = opts.k + opts.m;
  // A coding named on the command line is checked before anything starts; the default depends on
  // the file's size (`defaultCoding`), known once the file is.
  const named = opts.code !== undefined || opts.d !== undefined;
  let coding: FileCoding = named ? parseCoding(opts.code ?? "clay", opts.k, opts.m, opts.d) : undefined;
  if (!Number.isInteger(opts.kill) || opts.kill < 1 || opts.kill > opts.m) {
    throw new Error(`--kill must be between 1 and m = ${opts.m}: more than m lost pieces lose the file`);
  }
  const providerCount = opts.providers ? Number(opts.providers) : n + opts.kill;
  if (providerCount < n + opts.kill) {
    throw new Error(
      `--providers must be at least k + m + kill = ${n + opts.kill}: each rebuilt piece needs a new provider`,
    );
  }
  if (!opts.keys && providerCount > MAX_DEV_PROVIDERS) throw new Error(`at most ${MAX_DEV_PROVIDERS} providers`);
  if (opts.keys && !opts.rpc) throw new Error("--keys goes with --rpc (the embedded devnet uses its dev accounts)");
  const keys = opts.keys ? await readKeysFile(opts.keys, providerCount) : devKeys(providerCount);
  await mkdir(runDir, { recursive: true });
  const timeline: Step[] = [];
  let demoChain: DemoChain | undefined;
  let epochReader: ReturnType<typeof createPublicClient> | undefined;
  // With --wan, one connection in 20 that carries more than 256 KiB (a piece upload or download)
  // is reset part-way, so resuming is exercised in every run.
  const network = new DemoNetwork(Boolean(opts.wan), {
    resetProbability: 0.05,
    resetAfterBytes: [256 * 1024, 4 << 20],
  });
  const providers = new Map<Address, DaemonProcess>();
  let miner: DaemonProcess | undefined;
  const pool = new ErasurePool();
  const peaks = new PeakRss();
  /** A provider daemon's name in the peak-RSS summary: provider-<i>, in start order. */
  const roleOf = (address: Address) => `provider-${[...providers.keys()].indexOf(address)}`;
  let summaryPrinted = false;
  const recordPeaks = async (): Promise<void> => {
    for (const [address, p] of providers) await peaks.record(roleOf(address), p.process.pid);
    await peaks.record("miner", miner?.process.pid);
    await peaks.record("hardhat node", demoChain?.devnet?.process.pid);
  };
  const say = async (event: string) => {
    const epoch = epochReader ? await epochReader.getBlockNumber().catch(() => 0n) : 0n;
    const step = { wallSeconds: (Date.now() - started) / 1000, epoch: epoch.toString(), event };
    timeline.push(step);
    if (!opts.json)
      process.stdout.write(
        `[${step.wallSeconds.toFixed(1).padStart(6)} s | epoch ${step.epoch.padStart(5)}] ${event}\n`,
      );
  };
  try {
    if (!opts.file && !(Number.isInteger(opts.sizeMib) && opts.sizeMib > 0)) {
      throw new Error(`--size-mib must be a whole number of MiB above 0, got ${opts.sizeMib}`);
    }
    const file = opts.file ? resolve(opts.file) : join(runDir, "demo-file.bin");
    if (!opts.file) await writeRandomFile(file, opts.sizeMib * 1024 * 1024 + 12_345);
    const fileSize = (await stat(file)).size;
    if (!named) coding = defaultCoding(fileSize, opts.k, opts.m);
    const sizing = sizeDemo(fileSize, opts.k, opts.m, coding);
    // A big file's placement and repair need longer windows than the 4 MiB default's.
    const window = windowEpochs(sizing, opts.period, opts.blockMs);
    demoChain = await prepareChain({
      rpc: opts.rpc,
      blockMs: opts.blockMs,
      deploymentDir: opts.rpc ? resolve(opts.deployment) : join(runDir, "deployments"),
      marketParams: {
        provingPeriodEpochs: opts.period,
        challengeWindowEpochs: Math.max(4, Math.floor(opts.period / 2)),
      },
      repairParams: { repairWindowEpochs: window, placementWindowEpochs: window },
      keys,
      fundEach: 10n ** 24n,
      network,
      say,
    });
    const { deployment, deploymentDir } = demoChain;
    const rpc = demoChain.rpcUrl;
    epochReader = createPublicClient({ transport: rpcTransport(rpc) });
    const period = Number(deployment.marketParams.provingPeriodEpochs);
    await say(`proving period ${period} epochs${opts.wan ? "; agents and the chain behind WAN proxies" : ""}`);
    const contracts = contractsOf(deployment);
    const pledge = demoPledge(sizing, deployment);
    const minerAddress = privateKeyToAccount(keys.miner).address;
    const clientClients = await connectChain(rpc, privateKeyToAccount(keys.client));
    const pledgeArgs = await minerPledgeArgs(clientClients, contracts, deployment, minerAddress, pledge);
    await say(
      `${basename(file)}: ${sizing.fileBytes} bytes, ${sizing.encodedBytes} encoded (k = ${opts.k}, m = ${opts.m}); ` +
        `the miner pledges ${pledge} token base units for it; placement and repair windows ` +
        `${deployment.repairParams.placementWindowEpochs} epochs`,
    );
    const started_ = await Promise.all(
      keys.providers.map(async (key, i) =>
        startDaemon(
          "provider",
          [
            ...(await network.listenArgs()),
            ...["--data-dir", join(runDir, `provider-${i}`), "--rpc", rpc],
            ...["--deployment", deploymentDir, "--prove-interval-ms", "200", "--publish-interval-ms", "300"],
            ...["--scrub-interval-ms", "600000", "--log-file", join(runDir, `provider-${i}.log`)],
          ],
          // The key goes in the child's environment: a command line shows in ps.
          { LOG_LEVEL: "info", RM_PRIVATE_KEY: key },
        ),
      ),
    );
    for (const p of started_) providers.set(getAddress(p.address), p);
    miner = await startDaemon(
      "repair",
      [
        ...(await network.listenArgs()),
        ...["--data-dir", join(runDir, "miner"), "--rpc", rpc],
        ...["--deployment", deploymentDir, "--watch-interval-ms", "300", "--work-interval-ms", "200"],
        ...["--confirmations", "1", "--log-file", join(runDir, "miner.log")],
        ...["--settle-interval-ms", "1000", ...pledgeArgs],
      ],
      { RM_PRIVATE_KEY: keys.miner },
    );
    await say(
      `${providerCount} provider daemons and a repair miner started as separate processes, all registered on chain`,
    );

    // 1. Store the file repair-backed.
    const fileSha = await sha256File(file);
    const logger = createLogger("demo", "warn", join(runDir, "demo.log"));
    const clientStore = new ClientStore(join(runDir, "client", "client.sqlite"));
    const storedAtBlock = await clientClients.public.getBlockNumber();
    const stored = await new RepairClient({ clients: clientClients, contracts, store: clientStore, logger }).store(
      file,
      {
        k: opts.k,
        m: opts.m,
        coding,
        workDir: join(runDir, "client", "work"),
        pool,
        onProgress: (e) => {
          if (e.stage !== "upload") void say(`client: ${e.stage} ${e.detail ?? ""}`);
        },
      },
    );
    clientStore.close();
    await say(
      `stored ${basename(file)} (sha256 ${fileSha.slice(0, 16)}…, ${codingName(coding)}) as repair deal ${stored.dealId}, droot ${stored.droot}`,
    );

    // 2. Pieces placed and proven.
    const status = async () =>
      (await (await fetch(`${miner?.url}/repair/deals/${stored.dealId}`)).json()) as RepairDealStatusResponse;
    const chain = createPublicClient({ transport: rpcTransport(rpc) });
    // Bounds sized for the 4 MiB default, plus time to move the file's bytes at a slow rate.
    await waitUntil("every piece assigned on chain", stageTimeoutMs(120_000, sizing.encodedBytes), async () => {
      const deal = await chain.readContract({
        address: contracts.repairMarket,
        abi: repairMarketAbi,
        functionName: "getDeal",
        args: [stored.dealId],
      });
      return deal.state === 2;
    });
    const placed = await status();
    await say(`all ${n} pieces placed with distinct providers and assigned on chain (repair deal Active)`);
    for (const p of placed.pieces) await say(`  piece ${p.index} → ${p.provider} (storage deal ${p.storageDealId})`);
    await waitUntil("every piece proven once", stageTimeoutMs(180_000, sizing.pieceBytes), async () =>
      (await status()).pieces.every((p) => !p.localCopy),
    );
    await say("every piece proven on chain at least once; the miner deleted its local copies");

    // 3. Kill the holders of pieces 0 … kill − 1 at once.
    const killed = Array.from({ length: opts.kill }, (_, i) => i);
    const victims = killed.map((i) => getAddress(placed.pieces[i].provider as Address));
    const repairsBefore = (await status()).repairs.length;
    // A killed provider's peak is read while it still runs.
    for (const v of victims) await peaks.record(roleOf(v), providers.get(v)?.process.pid);
    await Promise.all(victims.map((v) => providers.get(v)?.kill9()));
    for (const i of killed) await say(`SIGKILL provider ${victims[i]} (holds piece ${i})`);

    // 4. Fault, repair, reassignPiece, confirmation — for every killed piece.
    const jobOf = (s: RepairDealStatusResponse, index: number) =>
      s.repairs.slice(repairsBefore).find((r) => r.indices.includes(index) && r.confirmedEpoch !== undefined);
    // A repair downloads k pieces, rebuilds the lost ones and uploads them.
    const repairBytes = sizing.pieceBytes * BigInt(opts.k + opts.kill);
    const done = await waitUntil(
      "every killed piece repaired and confirmed",
      stageTimeoutMs(300_000, repairBytes),
      async () => {
        const s = await status();
        const jobs = killed.map((i) => jobOf(s, i));
        return jobs.every((j) => j !== undefined) && s.pieces.every((p) => p.state === "assigned")
          ? { s, job: jobs[0] }
          : undefined;
      },
    );
    const repairedEvents = await scanNewestFirst(
      clientClients,
      { fromBlock: storedAtBlock, toBlock: await chain.getBlockNumber() },
      (range) =>
        chain.getContractEvents({
          address: contracts.repairMarket,
          abi: repairMarketAbi,
          eventName: "PieceRepaired",
          args: { dealId: stored.dealId },
          ...range,
        }),
      (found) => found.length > 0,
    );
    const repairedEvent = repairedEvents.at(-1);
    await say(`fault seen at epoch ${done.job.faultEpoch}: loss reported on chain, repair queued`);
    const jobs = [...new Map(killed.map((i) => jobOf(done.s, i)).map((j) => [j?.id, j])).values()];
    const bytesDownloaded = jobs.reduce((sum, j) => sum + (j?.bytesDownloaded ?? 0), 0);
    const piecesDownloaded = bytesDownloaded / Number(sizing.pieceBytes);
    await say(
      `repair downloaded ${bytesDownloaded} bytes (${piecesDownloaded.toFixed(2)} pieces; ${expectedDownload(coding, opts.k, killed.length)}) in ${jobs.length} job(s) and rebuilt pieces ${killed.join(", ")}`,
    );
    for (const i of killed) {
      const job = jobOf(done.s, i);
      const holder = done.s.pieces[i];
      await say(
        `piece ${i} re-placed with ${holder.provider} (storage deal ${holder.storageDealId}); reassigned at epoch ${job?.reassignedEpoch}, confirmed (new deal proven) at epoch ${job?.confirmedEpoch}`,
      );
    }
    await say(`last reassignPiece tx ${repairedEvent?.transactionHash}`);
    const repaired = killed.map((index) => {
      const job = jobOf(done.s, index);
      return { index, faultEpoch: job?.faultEpoch ?? "", confirmedEpoch: job?.confirmedEpoch ?? "" };
    });
    // Losses the demo did not cause: every loss the miner worked on beyond the killed pieces
    // (a live provider that missed a period, a repair that had to be redone).
    const unexpectedLosses = done.s.repairs.slice(repairsBefore).flatMap((r) => r.indices).length - killed.length;
    if (unexpectedLosses > 0) await say(`UNEXPECTED: ${unexpectedLosses} piece losses the demo did not cause`);

    // 5. Paid retrieval of the whole file.
    const reader = await connectChain(rpc, privateKeyToAccount(keys.reader));
    const readerStore = new ClientStore(join(runDir, "reader", "client.sqlite"));
    const out = join(runDir, "retrieved.bin");
    const retrieval = await new RetrievalClient({
      clients: reader,
      contracts,
      store: readerStore,
      logger,
      pool,
      workDir: join(runDir, "reader", "work"),
    }).retrieveFile(stored.droot, out);
    readerStore.close();
    const outSha = await sha256File(out);
    const match = outSha === fileSha;
    await say(
      `retrieved the file through paid retrieval from ${retrieval.piecesUsed.length} providers, paid ${retrieval.paid} token base units`,
    );
    await say(`sha256 ${match ? "MATCHES" : "DIFFERS"}: ${outSha}`);

    // 6. The miner recovers its money (issue 17): the killed providers' storage deals end
    // (their data sets fail) and the miner's settler closes them; nothing stays locked for an
    // ended deal. Bounded: a timeout is reported in the summary, not thrown.
    const replaced = killed.map((i) => BigInt(placed.pieces[i].storageDealId ?? "0"));
    const { escrow, settled } = await settledEscrow(chain, contracts, replaced, miner.url, 180_000);
    const minerLockedForEndedDeals = escrow.lockedForEndedDeals;
    await say(
      `miner escrow: StorageMarket free ${escrow.storageMarket.free}, locked ${escrow.storageMarket.locked}; ${minerLockedForEndedDeals} locked for ended storage deals (replaced deals ${replaced.join(", ")} ${settled ? "settled" : "NOT all settled in time"})`,
    );
    const ok = match && unexpectedLosses === 0 && minerLockedForEndedDeals === "0";

    // 7. Summary. Peaks are read while every process still runs (the killed ones were read before).
    await recordPeaks();
    summaryPrinted = true;
    const summary = {
      ok,
      file,
      droot: stored.droot,
      repairDealId: stored.dealId.toString(),
      coding: codingName(coding),
      killedProviders: victims,
      newProviders: killed.map((i) => done.s.pieces[i].provider),
      repaired,
      unexpectedLosses,
      bytesDownloadedForRepair: bytesDownloaded,
      // Goal: exactly k (seed 003: download the minimum number of pieces), however many were lost.
      piecesDownloadedForRepair: piecesDownloaded,
      faultToReassignEpochs: Number(BigInt(done.job.reassignedEpoch ?? "0") - BigInt(done.job.faultEpoch ?? "0")),
      faultToConfirmedRepairEpochs: Math.max(
        ...repaired.map((r) => Number(BigInt(r.confirmedEpoch || "0") - BigInt(r.faultEpoch || "0"))),
      ),
      provingPeriodEpochs: period,
      reassignTx: repairedEvent?.transactionHash,
      retrievalPaid: retrieval.paid.toString(),
      // Token base units the miner's worker still has locked in StorageMarket for storage deals
      // that are no longer live (issue 17): 0 once the settler has closed them all.
      minerLockedForEndedDeals,
      wallSeconds: (Date.now() - started) / 1000,
      // Peak resident set per process, MiB (VmHWM; the demo's own includes its erasure workers).
      peakRssMiB: peaks.summary(),
      chain: opts.rpc ? "--rpc" : "embedded devnet",
      wan: network.stats() ?? null,
      dataDir: runDir,
    };
    printSummary(summary, timeline, Boolean(opts.json));
    return ok ? 0 : 1;
  } finally {
    if (!summaryPrinted) {
      await recordPeaks();
      process.stderr.write(`peak RSS, MiB: ${JSON.stringify(peaks.summary())}\n`);
    }
    await miner?.stop();
    await Promise.all([...providers.values()].map((p) => p.stop()));
    await pool.close();
    await network.stop();
    await demoChain?.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    const message = (err as Error).message;
    // With --json a script reading stdout gets a JSON answer on failure too.
    if (opts.json)
      process.stdout.write(
        JSON.stringify({ ok: false, error: { name: (err as Error).name, message } }, null, 2) + "\n",
      );
    process.stderr.write(`demo failed: ${message}\n`);
    process.exit(1);
  },
);

/**
 * What a repair should download, for the demo's line: k whole pieces, or for a Clay file's single
 * lost piece d helpers' β of α sub-chunks, d / (d − k + 1) pieces (plus 32-byte roots).
 */
function expectedDownload(coding: FileCoding, k: number, lost: number): string {
  if (!coding || lost !== 1) return `k = ${k} whole pieces`;
  const q = coding.d - k + 1;
  return `Clay, d = ${coding.d} helpers' sub-chunks: ${(coding.d / q).toFixed(2)} pieces plus roots, not k = ${k}`;
}
