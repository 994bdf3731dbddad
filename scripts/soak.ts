/**
 * `npm run soak -- [--quick] [--[no-]burst] [--seed N] [--providers N] [--files N] [--periods N] [--json] [--out DIR]`:
 * the durability promise under chaos. Starts a devnet and, as separate processes, providers, a
 * repair miner and a dealbot controller; stores repair-backed files of varied sizes and layouts;
 * for the given proving periods injects faults drawn from the seed (providers SIGKILLed and
 * restarted or not, a data dir wiped, a provider serving corrupted bytes, one that stops proving,
 * the miner SIGKILLed and restarted, the agents cut off the chain), never more than m pieces of a
 * file at once — except, in full mode or with --burst, one burst beyond tolerance on one file, which must end as
 * RepairDeal Lost on chain with the client refunded. Then retrieves every file through paid
 * retrieval, checks SHA-256, checks every contract holds exactly what it owes, and writes a JSON
 * report (also the `--calibrate` input of `npm run durability`) and an HTML page.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { Command } from "commander";
import { createPublicClient, type PublicClient } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { devKey } from "./lib/agents";
import { demoPledge, sizeDemo, windowEpochs } from "./lib/demo-sizing";
import { SeededRandom } from "./lib/fault-injection";
import { DEFAULT_FAULT_WEIGHTS } from "./lib/soak/chaos-plan";
import { runChaos, type ChaosOutcome } from "./lib/soak/chaos";
import { Fleet, ROLE_ACCOUNT } from "./lib/soak/fleet";
import { planFiles, storeFiles } from "./lib/soak/files";
import { readFileViews } from "./lib/soak/chain-view";
import { finishSoak } from "./lib/soak/finish";
import { repairJobsInFlight, type FaultRecord } from "./lib/soak/report";
import { startSoakChain, type SoakChain } from "./lib/soak/setup";
import { connectChain } from "../actors-ts/chain/clients";
import { contractsOf } from "../actors-ts/chain/contracts";
import { rpcTransport } from "../actors-ts/chain/rpc-transport";
import { createLogger } from "../actors-ts/core/logger";
import { ErasurePool } from "../actors-ts/erasure/erasure-pool";
import { listRepairDeals } from "../actors-ts/protocol/repair-miner-client";

const program = new Command("soak")
  .description(
    "store repair-backed files with many providers, inject faults for many proving periods (never more than m pieces of a file at once), then retrieve every file, check its SHA-256 and that every contract holds what it owes",
  )
  .option("--quick", "the CI size: 8 providers, 5 files, 30 periods (about 5 minutes)")
  .option("--seed <n>", "seed of every random choice (default: random; printed at the start)", (v) => Number(v))
  .option("--providers <n>", "provider daemons (default 20, quick 8)", (v) => Number(v))
  .option("--files <n>", "repair-backed files stored (default 50, quick 5)", (v) => Number(v))
  .option("--periods <n>", "proving periods of chaos (default 200, quick 30)", (v) => Number(v))
  .option("--period-epochs <n>", "proving period, epochs", (v) => Number(v), 10)
  .option("--block-ms <ms>", "time between blocks when no live provider is waited for", (v) => Number(v), 300)
  .option("--fault-every <periods>", "mean proving periods between faults (default 3, quick 3)", (v) => Number(v), 3)
  .option("--out <dir>", "write soak.json and soak.html here (default: the run's data dir)")
  .option("--json", "print the report as one JSON document on stdout (logs go to stderr)")
  .option("--burst", "break one file beyond tolerance halfway (m + 1 pieces lost at once; default in full mode)")
  .option("--no-burst", "no beyond-tolerance burst, even in full mode")
  .addHelpText(
    "after",
    `
Faults (drawn from --seed): kill-restart, kill-forever, wipe (restart on an empty data dir),
corrupt-reads, stop-proving, miner-restart, chain-outage. A provider fault is injected only when
every file it holds keeps at most m pieces at risk and enough healthy providers to repair onto.
Full mode (or --burst) also breaks one file beyond tolerance (m + 1 pieces declared lost at once) and
expects it reported as RepairDeal Lost with the client refunded. Exit code 0 only when every other file is
retrieved intact, at least one repair was confirmed and funds are conserved in every contract.`,
  )
  .parse(process.argv);

const opts = program.opts<{
  quick?: boolean;
  seed?: number;
  providers?: number;
  files?: number;
  periods?: number;
  periodEpochs: number;
  blockMs: number;
  faultEvery: number;
  out?: string;
  json?: boolean;
  burst?: boolean;
}>();

async function main(): Promise<number> {
  const started = Date.now();
  const quick = Boolean(opts.quick);
  const burst = opts.burst ?? !quick;
  const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 31);
  const providerCount = opts.providers ?? (quick ? 8 : 20);
  const fileCount = opts.files ?? (quick ? 5 : 50);
  const periods = opts.periods ?? (quick ? 30 : 200);
  const period = opts.periodEpochs;
  for (const [name, v] of Object.entries({ seed, providerCount, fileCount, periods, period })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got ${v}`);
  }
  if (providerCount < 7) throw new Error("--providers must be at least 7: a 4 + 2 file and a provider to repair onto");
  const runDir = resolve(".soak", `${new Date().toISOString().replace(/[:.]/g, "-")}-seed-${seed}`);
  const outDir = resolve(opts.out ?? runDir);
  await mkdir(runDir, { recursive: true });
  await mkdir(outDir, { recursive: true });
  const log = (line: string) =>
    process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}\n`);
  log(
    `soak seed ${seed}: ${providerCount} providers, ${fileCount} files, ${periods} periods of ${period} epochs (${quick ? "quick" : "full"}); data in ${runDir}`,
  );

  const rng = new SeededRandom(seed);
  const plans = planFiles(rng, fileCount, providerCount, 64 * 1024, quick ? 1536 * 1024 : 8 << 20);
  const sizings = plans.map((p) => sizeDemo(p.bytes, p.k, p.m, p.coding));
  const window = Math.max(...sizings.map((s) => windowEpochs(s, period, opts.blockMs)));
  let chain: SoakChain | undefined;
  let fleet: Fleet | undefined;
  const pool = new ErasurePool();
  try {
    chain = await startSoakChain({
      runDir,
      blockMs: opts.blockMs,
      provingPeriodEpochs: period,
      windowEpochs: window,
      providerCount,
    });
    const { deployment, deploymentDir } = chain;
    const contracts = contractsOf(deployment);
    const direct = chain.devnet.rpcUrl;
    const reader: PublicClient = createPublicClient({ transport: rpcTransport(direct) });
    log(`devnet ${direct}, agents through relay ${chain.relay.url}; placement and repair windows ${window} epochs`);
    const pledge = sizings.reduce((sum, s) => sum + demoPledge(s, deployment), 0n) * 2n;
    const minerArgs = ["--pledge", pledge.toString(), "--auto-pledge", "--max-pledge", (pledge * 2n).toString()];
    const f = new Fleet({
      runDir,
      rpcUrl: chain.relay.url,
      deploymentDir,
      relay: chain.relay,
      pacer: chain.devnet.pacer,
      providerCount,
      minerArgs,
      // About three proving periods.
      minerBackoffMs: Math.max(5000, 3 * period * opts.blockMs),
    });
    fleet = f;
    await Promise.all(f.providers.map((p) => f.startProvider(p)));
    await f.startDealbot(quick ? 40_000 : 20_000);
    const reputationUrl = `${f.dealbot?.url}/api/reputation`;
    const startMiner = () => f.startMiner(reputationUrl);
    await startMiner();
    log(`${providerCount} providers, a repair miner and a dealbot controller started as separate processes`);

    const logger = createLogger("soak", "warn", join(runDir, "soak.log"));
    const client = await connectChain(direct, privateKeyToAccount(devKey(ROLE_ACCOUNT.client)));
    const files = await storeFiles(plans, { clients: client, contracts, logger, pool, dir: runDir }, log);
    await waitFor(
      "every file's repair deal Active (all pieces placed and proven)",
      quick ? 240_000 : 1_200_000,
      async () => {
        const views = await readFileViews({ public: reader as never }, contracts, files);
        return views.every((v) => v.state === "Active");
      },
    );
    log(`all ${files.length} repair deals Active: chaos begins`);

    const faults: FaultRecord[] = [];
    const record = (fault: Omit<FaultRecord, "wallSeconds">) => {
      faults.push({ ...fault, wallSeconds: (Date.now() - started) / 1000 });
      log(`epoch ${fault.epoch}: ${fault.kind}${fault.provider ? ` ${fault.provider}` : ""}: ${fault.note}`);
    };
    const chaos: ChaosOutcome = await runChaos({
      fleet: f,
      chain: reader,
      rpcUrl: direct,
      contracts,
      files,
      rng,
      periods,
      provingPeriodEpochs: period,
      faultEveryPeriods: opts.faultEvery,
      weights: DEFAULT_FAULT_WEIGHTS,
      // Each permanent fault costs the fleet a provider to repair onto.
      permanentFaults: Math.max(1, Math.floor((providerCount - 7) / 2)),
      burst,
      timeoutMs: periods * period * opts.blockMs * 8 + 300_000,
      startMiner,
      record,
    });
    log(`chaos over at epoch ${chaos.endEpoch}: ${faults.length} faults; waiting for the repairs in flight`);

    // Drain: every file still open has all its pieces placed and confirmed, and the miner's
    // jobs are finished (bounded; what is left over is in the report).
    await waitFor("every open file repaired and confirmed", quick ? 150_000 : 900_000, async () => {
      const views = await readFileViews({ public: reader as never }, contracts, files);
      const deals = f.miner ? await listRepairDeals(f.miner.url) : [];
      return views.every((v) => v.closed || v.slots.every((s) => !s.lost)) && repairJobsInFlight(deals) === 0;
    }).catch((err: Error) => log(`${err.message}; reporting what is there`));
    const report = await finishSoak({
      seed,
      quick,
      burst,
      started,
      runDir,
      chain,
      fleet: f,
      reader,
      files,
      faults,
      chaos,
      pool,
      logger,
      periods,
      period,
      log,
    });
    await writeFile(join(outDir, "soak.json"), JSON.stringify(report, null, 2) + "\n");
    const { renderHtml } = await import("./lib/soak/html");
    await writeFile(join(outDir, "soak.html"), renderHtml(report));
    log(`report: ${join(outDir, "soak.json")} and ${join(outDir, "soak.html")}`);
    if (opts.json) process.stdout.write(JSON.stringify(report, null, 2) + "\n");
    else printSummary(report as unknown as Record<string, unknown>);
    return report.ok ? 0 : 1;
  } finally {
    await fleet?.stopAll();
    await pool.close();
    await chain?.stop();
  }
}

/** Polls `probe` every 500 ms (its errors count as "not yet"); throws naming `what` after `timeoutMs`. */
async function waitFor(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`soak: timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

function printSummary(report: Record<string, unknown>): void {
  const keys = ["ok", "seed", "wallSeconds", "filesStored", "filesIntact", "filesLost", "faultsByKind", "repairs"];
  for (const key of keys) {
    const value = key === "repairs" ? { ...(report.repairs as object), jobs: undefined } : report[key];
    process.stdout.write(`${key.padEnd(28)} ${JSON.stringify(value)}\n`);
  }
  for (const key of ["faultToRepairDistribution", "bytesDownloadedDistribution", "fundsConserved", "dataDir"])
    process.stdout.write(`${key.padEnd(28)} ${JSON.stringify(report[key])}\n`);
}

main().then(
  (code) => process.exit(code),
  (err) => {
    const message = (err as Error).message;
    if (opts.json) process.stdout.write(JSON.stringify({ ok: false, error: { message } }, null, 2) + "\n");
    process.stderr.write(`soak failed: ${message}\n`);
    process.exit(1);
  },
);
