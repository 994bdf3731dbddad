import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { InvalidArgumentError, RepairMarketError } from "../core/errors";

/** StorageMarket deployment parameters (see `IStorageMarket.MarketParams` for ranges). */
export interface MarketParams {
  /** Proving period, epochs. */
  provingPeriodEpochs: bigint;
  /** Proof window at the end of each period, epochs. */
  challengeWindowEpochs: bigint;
  /** Leaves challenged per period. */
  challengesPerProof: bigint;
  /** Missed periods in a row that fail a proof set. */
  maxConsecutiveFaults: bigint;
  /** Share of collateral paid to the client on a declared fault, basis points. */
  declaredFaultPenaltyBps: bigint;
  /** Share of slashed collateral paid to the failure's reporter, basis points. */
  reporterBountyBps: bigint;
  /** Bounty per recorded missed period, token base units. */
  faultReportBounty: bigint;
  /** Longest deal, epochs. */
  maxDealDurationEpochs: bigint;
}

/**
 * Defaults for a local devnet mining one block per second: a 30-second proving period with a
 * 10-second proof window, so faults show up within a minute. Production chains pick longer
 * periods (e.g. 300 epochs = 1 hour at 12-second blocks).
 */
export const DEFAULT_MARKET_PARAMS: MarketParams = {
  provingPeriodEpochs: 30n,
  challengeWindowEpochs: 10n,
  challengesPerProof: 5n,
  maxConsecutiveFaults: 3n,
  declaredFaultPenaltyBps: 500n,
  reporterBountyBps: 1000n,
  faultReportBounty: 10n ** 16n,
  maxDealDurationEpochs: 10_000_000n,
};

/** RepairMarket deployment parameters (see `IRepairMarket.RepairParams`). */
export interface RepairParams {
  /** Pledge per encoded byte under management, token base units. */
  pledgePerByte: bigint;
  /** Epochs after addDeal to assign every piece. */
  placementWindowEpochs: bigint;
  /** Epochs a lost piece may stay unrepaired. */
  repairWindowEpochs: bigint;
  /** Slash per unrepaired piece, basis points of the deal's pledge share. */
  lostPieceSlashBps: bigint;
  /** Slash on file loss, basis points of the deal's pledge share. */
  dataLossSlashBps: bigint;
  /** Caller's share of a slash, basis points. */
  slashBountyBps: bigint;
  /** First reporter's bounty for a piece's loss, basis points of the deal's pledge share. */
  lossReportBountyBps: bigint;
  /** Longest repair deal, epochs. */
  maxDealDurationEpochs: bigint;
}

/**
 * Devnet defaults: placement (assigned and proven) within 5 minutes, repairs within 2 minutes
 * (four 30-epoch proving periods) at one block per second; 0.5 % of a deal's pledge share to the
 * first reporter of each piece's loss.
 */
export const DEFAULT_REPAIR_PARAMS: RepairParams = {
  pledgePerByte: 1_000_000n,
  placementWindowEpochs: 300n,
  repairWindowEpochs: 120n,
  lostPieceSlashBps: 1000n,
  dataLossSlashBps: 5000n,
  slashBountyBps: 1000n,
  lossReportBountyBps: 50n,
  maxDealDurationEpochs: 10_000_000n,
};

/** Epochs between a payment channel's settle and collect on a devnet. */
export const DEFAULT_SETTLE_DELAY_EPOCHS = 20n;

/** The contracts of a deployment, as the deployment file names them. */
export const CONTRACT_NAMES = [
  "PaymentToken",
  "ProviderRegistry",
  "StorageMarket",
  "RepairMarket",
  "PaymentChannels",
] as const;
/** One of {@link CONTRACT_NAMES}. */
export type ContractName = (typeof CONTRACT_NAMES)[number];

/** What was deployed at one address, recorded when it was deployed. */
export interface DeployedCode {
  /** keccak256 of the runtime code at the address (`eth_getCode`), 0x + 64 hex digits. */
  codeHash: `0x${string}`;
  /**
   * The Hardhat artifact the code was deployed from, fully qualified
   * (`contracts/market/StorageMarket.sol:StorageMarket`); absent for an existing token
   * (`PAYMENT_TOKEN`), which this project did not build.
   */
  artifact?: string;
  /** Id of the solc build (`artifacts/build-info/<id>.json`) the artifact came from. */
  buildInfo?: string;
}

/**
 * What `scripts/deploy.ts` writes to `deployments/<chainId>.json`. `profile`,
 * `deployBlockHash` and `code` were added later: files written before lack them, and readers must
 * cope (they are validated when present).
 */
export interface Deployment {
  chainId: number;
  /** The parameter profile deployed (`scripts/lib/deploy-profiles.ts`), e.g. "base-sepolia". */
  profile?: string;
  /** First block that can hold the contracts' events: where agents start scanning. */
  deployBlock: number;
  /** Hash of block `deployBlock`: the same number with another hash is another chain (or a reset one). */
  deployBlockHash?: `0x${string}`;
  deployer: string;
  contracts: Record<ContractName, string>;
  /** Per contract, its runtime code hash and the artifact it came from. */
  code?: Partial<Record<ContractName, DeployedCode>>;
  /** Parameters as decimal strings. */
  marketParams: Record<keyof MarketParams, string>;
  repairParams: Record<keyof RepairParams, string>;
  settleDelayEpochs: string;
}

/** The deployment file could not be read or is malformed. */
export class DeploymentNotFoundError extends RepairMarketError {
  override name = "DeploymentNotFoundError" as const;
}

/**
 * Reads `<dir>/<chainId>.json`.
 *
 * @param chainId Chain id of the network.
 * @param dir Directory holding deployment files (default `./deployments`).
 * @throws DeploymentNotFoundError when the file is missing or unreadable.
 * @throws InvalidArgumentError when it lacks a contract address.
 */
export function readDeployment(chainId: number, dir = "deployments"): Deployment {
  return readDeploymentFile(join(dir, `${chainId}.json`), chainId);
}

/**
 * Reads one deployment file.
 *
 * @param expectedChainId When given, the file must be for this chain.
 * @throws DeploymentNotFoundError when the file is missing, unreadable or for another chain.
 * @throws InvalidArgumentError when it lacks a contract address.
 */
export function readDeploymentFile(path: string, expectedChainId?: number): Deployment {
  let parsed: Deployment;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8")) as Deployment;
  } catch (cause) {
    throw new DeploymentNotFoundError(`no deployment at ${path}`, {
      details: { path, hint: "run `npx hardhat run scripts/deploy.ts --network localhost`" },
      cause,
    });
  }
  if (expectedChainId !== undefined && parsed.chainId !== expectedChainId) {
    throw new DeploymentNotFoundError("deployment file is for another chain", {
      details: { path, fileChainId: parsed.chainId, rpcChainId: expectedChainId },
    });
  }
  for (const name of CONTRACT_NAMES) {
    if (!/^0x[0-9a-fA-F]{40}$/.test(parsed.contracts?.[name] ?? "")) {
      throw new InvalidArgumentError(`deployment file lacks the ${name} address`, { details: { path } });
    }
  }
  checkRecordedCode(parsed, path);
  return parsed;
}

const HASH = /^0x[0-9a-fA-F]{64}$/;

/** Validates the fields files written before them lack: absent is fine, malformed is not. */
function checkRecordedCode(parsed: Deployment, path: string): void {
  const bad = (field: string): InvalidArgumentError =>
    new InvalidArgumentError(`deployment file has a malformed ${field}`, { details: { path, field } });
  if (parsed.profile !== undefined && (typeof parsed.profile !== "string" || parsed.profile === "")) {
    throw bad("profile");
  }
  if (parsed.deployBlockHash !== undefined && !HASH.test(String(parsed.deployBlockHash))) {
    throw bad("deployBlockHash");
  }
  if (parsed.code === undefined) return;
  if (typeof parsed.code !== "object" || parsed.code === null) throw bad("code");
  for (const [name, entry] of Object.entries(parsed.code) as [string, DeployedCode | undefined][]) {
    if (!(CONTRACT_NAMES as readonly string[]).includes(name)) throw bad(`code.${name} (no such contract)`);
    if (typeof entry !== "object" || entry === null || !HASH.test(String(entry.codeHash))) {
      throw bad(`code.${name}.codeHash`);
    }
    if (entry.artifact !== undefined && !/^[^:]+\.sol:\w+$/.test(String(entry.artifact))) {
      throw bad(`code.${name}.artifact`);
    }
    if (entry.buildInfo !== undefined && !/^[0-9a-fA-F]+$/.test(String(entry.buildInfo))) {
      throw bad(`code.${name}.buildInfo`);
    }
  }
}

/** Reads a deployment given either its file or a directory of `<chainId>.json` files. */
export function loadDeployment(path: string, chainId: number): Deployment {
  const isDir = statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
  return isDir ? readDeployment(chainId, path) : readDeploymentFile(path, chainId);
}
