import { readFileSync } from "node:fs";
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

/** What `scripts/deploy.ts` writes to `deployments/<chainId>.json`. */
export interface Deployment {
  chainId: number;
  /** First block that can hold the contracts' events: where agents start scanning. */
  deployBlock: number;
  deployer: string;
  contracts: {
    PaymentToken: string;
    ProviderRegistry: string;
    StorageMarket: string;
  };
  /** Parameters as decimal strings. */
  marketParams: Record<keyof MarketParams, string>;
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
  const path = join(dir, `${chainId}.json`);
  let parsed: Deployment;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8")) as Deployment;
  } catch (cause) {
    throw new DeploymentNotFoundError(`no deployment for chain ${chainId}`, {
      details: { path, hint: "run `npx hardhat run scripts/deploy.ts --network localhost`" },
      cause,
    });
  }
  for (const name of ["PaymentToken", "ProviderRegistry", "StorageMarket"] as const) {
    if (!/^0x[0-9a-fA-F]{40}$/.test(parsed.contracts?.[name] ?? "")) {
      throw new InvalidArgumentError(`deployment file lacks the ${name} address`, { details: { path } });
    }
  }
  return parsed;
}
