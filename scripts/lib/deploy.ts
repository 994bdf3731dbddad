import { ethers } from "hardhat";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { DEFAULT_MARKET_PARAMS, type Deployment, type MarketParams } from "../../actors-ts/chain/deployment";

/** Options of {@link deployAll}. */
export interface DeployOptions {
  /** Use this ERC-20 instead of deploying a devnet PaymentToken. */
  paymentToken?: string;
  /** Overrides of {@link DEFAULT_MARKET_PARAMS}. */
  marketParams?: Partial<Record<keyof MarketParams, string | number | bigint>>;
  /** Devnet token supply minted to the deployer, base units (default 10^27 = 10^9 tokens). */
  tokenSupply?: bigint;
}

/**
 * Deploys every contract the agents need, in dependency order, from `deployer`.
 *
 * @returns Addresses, the first block to scan for events, and the parameters used.
 */
export async function deployAll(deployer: HardhatEthersSigner, options: DeployOptions = {}): Promise<Deployment> {
  const params: MarketParams = { ...DEFAULT_MARKET_PARAMS };
  for (const [key, value] of Object.entries(options.marketParams ?? {})) {
    if (!(key in params)) throw new Error(`unknown market parameter "${key}"`);
    (params as unknown as Record<string, bigint>)[key] = BigInt(value);
  }
  const startBlock = await ethers.provider.getBlockNumber();
  let tokenAddress = options.paymentToken;
  if (!tokenAddress) {
    const token = await ethers.deployContract(
      "PaymentToken",
      ["Repair Market Test Token", "RMT", options.tokenSupply ?? 10n ** 27n],
      deployer,
    );
    tokenAddress = await token.getAddress();
  }
  const registry = await ethers.deployContract("ProviderRegistry", [], deployer);
  const market = await ethers.deployContract(
    "StorageMarket",
    [
      tokenAddress,
      {
        provingPeriodEpochs: params.provingPeriodEpochs,
        challengeWindowEpochs: params.challengeWindowEpochs,
        challengesPerProof: params.challengesPerProof,
        maxConsecutiveFaults: params.maxConsecutiveFaults,
        declaredFaultPenaltyBps: params.declaredFaultPenaltyBps,
        reporterBountyBps: params.reporterBountyBps,
        faultReportBounty: params.faultReportBounty,
        maxDealDurationEpochs: params.maxDealDurationEpochs,
      },
    ],
    deployer,
  );
  await market.waitForDeployment();
  const chainId = (await ethers.provider.getNetwork()).chainId;
  return {
    chainId: Number(chainId),
    deployBlock: startBlock + 1,
    deployer: deployer.address,
    contracts: {
      PaymentToken: tokenAddress,
      ProviderRegistry: await registry.getAddress(),
      StorageMarket: await market.getAddress(),
    },
    marketParams: Object.fromEntries(Object.entries(params).map(([k, v]) => [k, v.toString()])) as Record<
      keyof MarketParams,
      string
    >,
  };
}

/**
 * Writes `<dir>/<chainId>.json`.
 *
 * @returns The file's path.
 */
export function writeDeployment(deployment: Deployment, dir = "deployments"): string {
  const target = resolve(dir);
  mkdirSync(target, { recursive: true });
  const path = join(target, `${deployment.chainId}.json`);
  writeFileSync(path, JSON.stringify(deployment, null, 2) + "\n");
  return path;
}
