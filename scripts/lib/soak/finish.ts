import { join } from "node:path";
import type { PublicClient } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { connectChain } from "../../../actors-ts/chain/clients";
import { contractsOf } from "../../../actors-ts/chain/contracts";
import type { Logger } from "../../../actors-ts/core/logger";
import type { ErasurePool } from "../../../actors-ts/erasure/erasure-pool";
import { listRepairDeals } from "../../../actors-ts/protocol/repair-miner-client";
import type { RepairDealStatusResponse } from "../../../actors-ts/protocol/repair-api";
import { devKey } from "../agents";
import type { ChaosOutcome } from "./chaos";
import {
  checkFundsConserved,
  readFileViews,
  readProofGas,
  readRepairEvents,
  reporters,
  type StoredFile,
} from "./chain-view";
import { retrieveAndCheck } from "./files";
import { ROLE_ACCOUNT, type Fleet } from "./fleet";
import {
  countBy,
  distribution,
  labelRepairs,
  methodLabel,
  repairEpochs,
  type FaultRecord,
  type SoakReport,
} from "./report";
import type { SoakChain } from "./setup";

/** What the end of the soak needs from its run. */
export interface FinishInput {
  seed: number;
  quick: boolean;
  /** Whether the chaos was to break one file beyond tolerance (then that loss is required). */
  burst: boolean;
  started: number;
  runDir: string;
  chain: SoakChain;
  fleet: Fleet;
  reader: PublicClient;
  files: StoredFile[];
  faults: FaultRecord[];
  chaos: ChaosOutcome;
  pool: ErasurePool;
  logger: Logger;
  periods: number;
  period: number;
  log(line: string): void;
}

/** Longest one file's retrieval may take, ms. */
const RETRIEVAL_TIMEOUT_MS = 120_000;

/**
 * The end of the soak: every file retrieved through paid retrieval and checked, the miner's
 * repair jobs and the chain's events read, every agent stopped, funds checked, the report built.
 */
export async function finishSoak(input: FinishInput): Promise<SoakReport> {
  const { chain, fleet, reader, files, log } = input;
  const contracts = contractsOf(chain.deployment);
  const deals: RepairDealStatusResponse[] = fleet.miner ? await listRepairDeals(fleet.miner.url) : [];
  const views = await readFileViews({ public: reader as never }, contracts, files);
  const readerClients = await connectChain(chain.devnet.rpcUrl, privateKeyToAccount(devKey(ROLE_ACCOUNT.reader)));
  const head = await reader.getBlockNumber({ cacheTime: 0 });
  const events = await readRepairEvents(reader, contracts, BigInt(chain.deployment.deployBlock), head);
  const filesLost: SoakReport["filesLost"] = [];
  let filesIntact = 0;
  for (const [i, file] of files.entries()) {
    const beyondTolerance = file.dealId === input.chaos.burstDealId;
    if (views[i].state === "Lost") {
      const lost = events.filesLost.find((l) => l.dealId === file.dealId);
      const refund = lost ? `, client refunded ${lost.clientRefund} token base units` : "";
      filesLost.push({
        droot: file.droot,
        reason: `RepairDeal Lost on chain at epoch ${lost?.epoch ?? "?"}${refund}`,
        beyondTolerance,
      });
      log(`file ${i}: lost on chain${beyondTolerance ? " (the burst beyond tolerance, as intended)" : ""}`);
      continue;
    }
    const outcome = await retrieveAndCheck(
      file,
      { clients: readerClients, contracts, logger: input.logger, pool: input.pool, dir: input.runDir },
      RETRIEVAL_TIMEOUT_MS,
    );
    if (outcome.intact) filesIntact++;
    else filesLost.push({ droot: file.droot, reason: outcome.reason ?? "unknown", beyondTolerance });
    log(`file ${i}: ${outcome.intact ? `intact (SHA-256 matches; paid ${outcome.paid})` : outcome.reason}`);
  }
  const crashes = fleet.crashed();
  await fleet.stopAll();
  const gas = await readProofGas(
    reader,
    contracts,
    BigInt(input.chaos.startEpoch),
    BigInt(input.chaos.endEpoch),
    input.periods,
  );
  const accounts = [...chain.accounts, ...(await reporters(reader, contracts, BigInt(chain.deployment.deployBlock)))];
  const deployer = await connectChain(chain.devnet.rpcUrl, privateKeyToAccount(devKey(ROLE_ACCOUNT.deployer)));
  const conservation = await checkFundsConserved(deployer, contracts, accounts);
  const fundsConserved = conservation.every((c) => c.conserved);
  log(
    `funds: ${conservation.map((c) => `${c.contract} ${c.conserved ? "conserved" : `holds ${c.held}, owes ${c.owed}`}`).join("; ")}`,
  );

  const jobs = labelRepairs(deals, events, input.faults);
  const faultToRepairEpochs = repairEpochs(jobs);
  const confirmedJobs = jobs.filter((j) => j.confirmedEpoch !== undefined);
  const bytes = confirmedJobs.map((j) => j.bytesDownloaded);
  const epochs = input.chaos.endEpoch - input.chaos.startEpoch;
  const epochSeconds = Math.round((input.chaos.wallMs / 1000 / Math.max(1, epochs)) * 1000) / 1000;
  const unexpectedLosses = filesLost.filter((l) => !l.beyondTolerance);
  const ok =
    unexpectedLosses.length === 0 &&
    filesIntact + filesLost.length === files.length &&
    fundsConserved &&
    confirmedJobs.length > 0 &&
    (!input.burst || filesLost.some((l) => l.beyondTolerance));
  return {
    ok,
    seed: input.seed,
    mode: input.quick ? "quick" : "full",
    wallSeconds: Math.round((Date.now() - input.started) / 100) / 10,
    providers: fleet.providers.length,
    periods: input.periods,
    provingPeriodEpochs: input.period,
    epochSeconds,
    faultToRepairEpochs,
    faultToRepairDistribution: distribution(faultToRepairEpochs),
    filesStored: files.length,
    filesIntact,
    filesLost,
    faults: input.faults,
    faultsByKind: countBy(input.faults.filter((f) => !f.recovery).map((f) => f.kind)),
    repairs: {
      total: jobs.length,
      confirmed: confirmedJobs.length,
      byKind: countBy(jobs.map((j) => j.kind)),
      byMethod: countBy(jobs.map((j) => methodLabel(j.method))),
      jobs,
    },
    bytesDownloadedPerRepair: bytes,
    bytesDownloadedDistribution: distribution(bytes),
    proofGas: {
      perProvider: gas.perProvider,
      note:
        "gasUsed of the provePossession transactions (receipts) during the chaos phase; per period = total / periods, " +
        `one proof per data set per period${gas.sampled ? "; an even sample of receipts, scaled (approximate)" : ""}`,
    },
    fundsConserved,
    conservation,
    crashes,
    source: `npm run soak -- ${input.quick ? "--quick " : ""}${input.burst === !input.quick ? "" : input.burst ? "--burst " : "--no-burst "}--seed ${input.seed}`,
    dataDir: join(input.runDir),
  };
}
