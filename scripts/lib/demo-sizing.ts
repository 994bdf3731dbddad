import { randomBytes } from "node:crypto";
import { open } from "node:fs/promises";
import { getAddress, type Address } from "viem";
import type { ChainClients } from "../../actors-ts/chain/clients";
import type { MarketContracts } from "../../actors-ts/chain/contracts";
import type { Deployment } from "../../actors-ts/chain/deployment";
import { getMiner, repairMinerOfWorker } from "../../actors-ts/chain/repair-market/reads";
import { encodedPayloadBytesOfFile } from "../../actors-ts/erasure/layout";
import type { FileCoding } from "../../actors-ts/erasure/coding";

/**
 * What the demo's file asks of the agents, worked out before it starts them: the miner's pledge
 * (RepairMarket counts a deal's power as its pieces' payload bytes, and `addDeal` wants
 * `pledgePerByte` for every byte the miner manages) and how long each stage may take.
 */

/**
 * The slowest transfer-and-hash rate a stage is given time for, bytes per second: a loaded 2-core
 * machine moving pieces between processes that each hash what they receive (decision 17 measured
 * about 100 MB/s for one upload on an idle machine).
 */
const SLOWEST_BYTES_PER_SECOND = 4 * 2 ** 20;

/** RepairMarket's basis points. */
const BPS = 10_000n;

/** A file's demands, from its size and the coding parameters. */
export interface DemoSizing {
  /** The file, bytes. */
  fileBytes: number;
  k: number;
  m: number;
  /** The k + m pieces' payload bytes: the bid's size and the power the deal adds to the miner. */
  encodedBytes: bigint;
  /** One piece's payload, bytes. */
  pieceBytes: bigint;
}

/** The demand of a `fileBytes` file coded k + m (Reed–Solomon, or `coding`). */
export function sizeDemo(fileBytes: number, k: number, m: number, coding?: FileCoding): DemoSizing {
  const encodedBytes = encodedPayloadBytesOfFile(fileBytes, k, m, coding);
  return { fileBytes, k, m, encodedBytes, pieceBytes: encodedBytes / BigInt(k + m) };
}

/**
 * Pledge for the file's deal on `deployment`'s RepairMarket, token base units: `encodedBytes ×
 * pledgePerByte`, plus what reporters of every piece's loss may take out of it
 * (`lossReportBountyBps` of the deal's pledge each), so a repair does not leave the miner short
 * for its next deal.
 */
export function demoPledge(sizing: DemoSizing, deployment: Deployment): bigint {
  const dealPledge = sizing.encodedBytes * BigInt(deployment.repairParams.pledgePerByte);
  const pieces = BigInt(sizing.k + sizing.m);
  return dealPledge + (dealPledge * BigInt(deployment.repairParams.lossReportBountyBps) * pieces) / BPS;
}

/**
 * RepairMarket's placement and repair windows for a new deployment, epochs: ten proving periods
 * (the 4 MiB demo's), plus the epochs it takes to move every piece at the slowest rate, since a
 * placement must be proven, and a repair downloaded, rebuilt, re-placed and proven, within them.
 */
export function windowEpochs(sizing: DemoSizing, periodEpochs: number, blockMs: number): number {
  return 10 * periodEpochs + Math.ceil(stageTimeoutMs(0, sizing.encodedBytes) / blockMs);
}

/**
 * A stage's bound: `baseMs` (what the 4 MiB demo needs, with room) plus the time to move `bytes`
 * at {@link SLOWEST_BYTES_PER_SECOND}.
 */
export function stageTimeoutMs(baseMs: number, bytes: bigint | number): number {
  return baseMs + Math.ceil((Number(bytes) / SLOWEST_BYTES_PER_SECOND) * 1000);
}

/**
 * The repair miner's pledge flags: `--pledge` for a miner created now, and `--auto-pledge` with a
 * `--max-pledge` that covers what an existing miner of this worker (`--rpc` on a chain used
 * before) already manages plus this file, so it tops up at the commit instead of refusing.
 */
export async function minerPledgeArgs(
  clients: Pick<ChainClients, "public">,
  contracts: MarketContracts,
  deployment: Deployment,
  worker: Address,
  pledge: bigint,
): Promise<string[]> {
  const minerId = await repairMinerOfWorker(clients, contracts, getAddress(worker));
  const power = minerId === undefined ? 0n : (await getMiner(clients, contracts, minerId)).powerBytes;
  const cap = power * BigInt(deployment.repairParams.pledgePerByte) + pledge;
  return ["--pledge", pledge.toString(), "--auto-pledge", "--max-pledge", cap.toString()];
}

/** Writes `bytes` random bytes to `path`, 4 MiB at a time (a 1 GiB file never sits in memory). */
export async function writeRandomFile(path: string, bytes: number): Promise<void> {
  const file = await open(path, "w");
  try {
    for (let written = 0; written < bytes;) {
      const chunk = randomBytes(Math.min(4 << 20, bytes - written));
      await file.write(chunk);
      written += chunk.length;
    }
  } finally {
    await file.close();
  }
}
